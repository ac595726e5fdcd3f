import pytest

from tests.stack.stack import Stack


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/stack/" in str(item.fspath):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(params=["postgres", "sqlite"])
def stack(request, tmp_path):
    """A running deployment: Postgres + Redis + Celery worker, or SQLite in embedded mode."""
    running = Stack(request.param, tmp_path).up()
    yield running
    running.down()


@pytest.fixture
def pg_stack(tmp_path):
    """The Postgres deployment, for tests about workers and the broker."""
    running = Stack("postgres", tmp_path).up()
    yield running
    running.down()
