"""Race pairs on real processes: a loser and its winner in different batches, delivered in
either order, aggregated by a Celery worker with two processes at once, or posted at the same
moment from two shippers while the worker runs. Every race must end linked and counted once."""

import threading
from datetime import UTC, datetime, timedelta

WINDOW = {"from": "-3h", "to": "now"}
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def race(i: int, tag: str) -> tuple[dict, dict]:
    """billing wins a PATCH of order i; mobile loses it 0.8 s later."""

    def rec(seconds, status, client):
        return {
            "ts": (T0 + timedelta(seconds=seconds)).isoformat(timespec="milliseconds"),
            "method": "PATCH",
            "path": f"/v1/orders/{tag}{i}",
            "status": status,
            "client": client,
            "request_id": f"{tag}-{client}-{i}",
            "response_body": "changed by someone else" if status == 409 else None,
        }

    return rec(i * 10, 200, "billing"), rec(i * 10 + 0.8, 409, "mobile")


def all_conflicts(stack) -> list[dict]:
    rows, page = [], stack.api("conflicts/", **WINDOW, limit=500)
    rows.extend(page["results"])
    assert page["next"] is None
    return rows


def assert_every_race_linked(stack, tag: str, count: int) -> None:
    losers = {r["request_id"]: r for r in all_conflicts(stack) if r["request_id"].startswith(tag)}
    assert len(losers) == count
    unlinked = [
        rid
        for rid, r in losers.items()
        if r["cause"] != "concurrent_write"
        or r["race_winner"] is None
        or r["race_winner"]["request_id"] != rid.replace("mobile", "billing")
    ]
    assert unlinked == [], f"{len(unlinked)} of {count} races not linked: {unlinked[:5]}"


def test_races_split_over_batches_link_on_two_worker_processes(pg_stack):
    stack = pg_stack
    stack.stop("worker")
    count = 40
    for i in range(count):
        winner, loser = race(i, "q")
        # Consecutive batches, so the two worker processes take the two sides at once.
        first, second = (loser, winner) if i % 2 else (winner, loser)
        assert stack.ingest([first]).status_code == 200
        assert stack.ingest([second]).status_code == 200
    stack.start_worker(concurrency=2)
    stack.wait_aggregated(timeout=120)
    assert_every_race_linked(stack, "q", count)
    summary = stack.api("summary/", **WINDOW)
    assert summary["by_cause"] == {"concurrent_write": count}
    offenders = {o["client"]: o for o in stack.api("offenders/", **WINDOW)}
    assert offenders["billing"]["caused"] == count
    assert offenders["mobile"]["suffered"] == count


def post_together(stack, records: list[dict]) -> list[int]:
    """Post each record as its own batch, all at the same moment, from one thread each."""
    barrier = threading.Barrier(len(records))
    answers: list[int] = []

    def post(record: dict) -> None:
        barrier.wait()
        answers.append(stack.ingest([record]).status_code)

    threads = [threading.Thread(target=post, args=(r,)) for r in records]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_races_posted_at_the_same_moment_by_two_shippers_link(stack):
    count = 30
    for i in range(count):
        winner, loser = race(i, "live")
        assert post_together(stack, [loser, winner]) == [200, 200]
    stack.wait_aggregated(timeout=120)
    # Whichever side's aggregation decided second saw the other's rows, so every race is
    # linked, and counted once under its final cause (nothing left behind under `unknown`).
    assert stack.api("summary/", **WINDOW)["by_cause"] == {"concurrent_write": count}
    assert_every_race_linked(stack, "live", count)
