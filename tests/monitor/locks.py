"""What the tests about concurrent transactions watch in Postgres."""

from django.db import connection

# How many sessions of the current database wait for a lock another one holds.
WAITING_ON_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def waiting_on_a_lock() -> bool:
    """Whether some session of the test database waits for a lock another one holds."""
    with connection.cursor() as cursor:
        cursor.execute(WAITING_ON_A_LOCK)
        return cursor.fetchone()[0] > 0
