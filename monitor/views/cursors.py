"""Keyset cursors in page URLs: "<epoch microseconds>.<id>", opaque to users but readable."""

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# What an empty page of a list says when its cursor lies beyond the oldest (or newest) row.
PAST_END = "Nothing here: this page is past the end of the list."


def encode(cursor: tuple[datetime, int] | None) -> str | None:
    if cursor is None:
        return None
    ts, row_id = cursor
    return f"{(ts - EPOCH) // timedelta(microseconds=1)}.{row_id}"


def decode(value: str | None) -> tuple[datetime, int] | None:
    """The cursor, or None for a missing or malformed one (the first page)."""
    if not value:
        return None
    micros, _, row_id = value.partition(".")
    try:
        return EPOCH + timedelta(microseconds=int(micros)), int(row_id)
    except (ValueError, OverflowError):
        return None
