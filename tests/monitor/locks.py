"""What the tests about concurrent transactions watch in Postgres."""

from django.db import connection


def waiting_on_a_lock() -> bool:
    """Whether some session of the test database waits for a lock another one holds."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0
