"""The API rate limit holds across gunicorn's worker processes (4, as docker-compose.yml runs)
when CACHE_URL names Redis, as docker-compose.yml sets it; without it each process counts its
own limit, which is what `check --deploy` warns about (monitor/ops/checks.py)."""

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.stack.stack import Stack

LIMIT = 20
CALLS = 80


@pytest.fixture
def stack4(tmp_path):
    stack = Stack("postgres", tmp_path, web_workers=4)
    stack.env["CONFLICTWATCH_API_RATE"] = f"{LIMIT}/day"
    stack.up(worker=False, access_log=True)
    yield stack
    stack.down()


def call_concurrently(stack: Stack, calls: int) -> Counter:
    """`calls` API calls from 8 threads, each on a connection of its own; answers by status."""

    def one(_) -> int:
        response = httpx.get(
            f"{stack.url}/api/v1/projects/shop/summary/",
            headers={"Authorization": f"Token {stack.api_key}", "Connection": "close"},
            timeout=30,
        )
        return response.status_code

    with ThreadPoolExecutor(8) as pool:
        return Counter(pool.map(one, range(calls)))


def workers_that_answered(stack: Stack, *statuses: int) -> set[str]:
    lines = (stack.tmp / "web-access.log").read_text().splitlines()
    return {
        pid
        for pid, code, method, path in (line.split() for line in lines)
        if path.endswith("/summary/") and int(code) in statuses
    }


def restart_web(stack: Stack) -> None:
    stack.stop("web")
    (stack.tmp / "web-access.log").unlink()
    stack.start_web(access_log=True)


def test_the_api_rate_limit_holds_across_four_gunicorn_workers(stack4):
    # Each process counting for itself: four workers let far more than the limit through.
    per_process = call_concurrently(stack4, CALLS)
    assert per_process[200] > LIMIT, per_process
    assert len(workers_that_answered(stack4, 200)) > 1

    stack4.env["CACHE_URL"] = f"redis://127.0.0.1:{stack4.redis_port}/1"
    restart_web(stack4)
    shared = call_concurrently(stack4, CALLS)
    assert shared == {200: LIMIT, 429: CALLS - LIMIT}, shared
    # Several workers answered, and together they let exactly the limit through. (Which worker
    # takes which call is up to the kernel: the 20 let through may all land on one of them.)
    assert len(workers_that_answered(stack4, 200, 429)) > 1
