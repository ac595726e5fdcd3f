"""Endpoints merged when a project's routing changes.

A learned parameter, a declared pattern or an imported template can name several existing
endpoints alike (`GET /docs/intro`, `GET /docs/setup` → `GET /docs/{doc}`). Those endpoints are
merged into the new one: its counts must be theirs too, for every grain and the whole rollup
retention, and its page must list their requests.

The merge moves what was counted rather than counting again: every rollup is additive, so the
rows of a merged endpoint are deleted and their counts added to the same keys of the new
endpoint, in one statement per table (on Postgres the DELETE … RETURNING feeds the upsert, so
a count that a worker adds concurrently is either moved or left for the next pass, never lost
or added twice). Re-aggregating raw rows instead could not reach counts older than the raw
retention, nor sampled-out reads. The raw rows of a merged endpoint are then re-pointed in
chunks, so that endpoint pages and `?endpoint=` filters find them.

Merged endpoints stay (with `merged_into`): ingest maps a record that still names one to its
new endpoint, and a later pass (`settle`) moves whatever a batch in flight added to the old one.
"""

from collections import defaultdict
from dataclasses import dataclass

from django.db import connection, transaction

from ingest.models import Request
from ingest.routes import DERIVED, LEARNED, build_table
from monitor.alerts.models import AlertRule
from monitor.models import Endpoint, Project
from monitor.pipeline.rollups import TABLES

RAW_CHUNK = 5000
# The rollup tables keyed by endpoint (race pairs are keyed by resource).
ENDPOINT_TABLES = tuple(t for t, (keys, _) in TABLES.items() if "endpoint_id" in dict(keys))


@dataclass
class Merged:
    endpoints: int = 0  # endpoints merged by this pass
    rollup_rows: int = 0  # rollup rows moved
    raw_rows: int = 0  # raw rows re-pointed


def reroute(project: Project) -> Merged:
    """Merge every derived or learned endpoint whose route the project's routing now names
    differently into the endpoint of the new route, then move their counts (`settle`)."""
    table = build_table(project)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    sources: dict[tuple[str, str], str] = {}
    rows = Endpoint.objects.filter(
        project=project, merged_into__isnull=True, source__in=[DERIVED, LEARNED]
    ).values_list("id", "method", "route")
    for ep_id, method, route in rows:
        new_route, source = table.route(route)
        if new_route != route:
            groups[(method, new_route)].append(ep_id)
            sources[(method, new_route)] = source
    merged = 0
    if groups:
        with transaction.atomic():
            Endpoint.objects.bulk_create(
                [
                    Endpoint(project=project, method=m, route=r, source=sources[(m, r)])
                    for m, r in sorted(groups)
                ],
                ignore_conflicts=True,
            )
            targets = {
                (m, r): merged_into or ep_id
                for ep_id, m, r, merged_into in Endpoint.objects.filter(
                    project=project, route__in={r for _, r in groups}
                ).values_list("id", "method", "route", "merged_into_id")
            }
            for key, old in sorted(groups.items()):
                target = targets[key]
                old = [ep for ep in old if ep != target]
                # Endpoints merged into these earlier follow them, so no chain forms.
                Endpoint.objects.filter(merged_into_id__in=old).update(merged_into_id=target)
                merged += Endpoint.objects.filter(id__in=old).update(merged_into_id=target)
    result = settle(project)
    result.endpoints = merged
    return result


def settle(project: Project) -> Merged:
    """Move the counts, raw rows and alert rules of the project's merged endpoints to the
    endpoints they were merged into. Repeatable: a second pass moves only what came since."""
    result = Merged()
    pairs = Endpoint.objects.filter(project=project, merged_into__isnull=False).values_list(
        "id", "merged_into_id", "merged_into__route"
    )
    by_target: dict[tuple[int, str], list[int]] = defaultdict(list)
    for old, target, route in pairs:
        by_target[(target, route)].append(old)
    for (target, route), olds in sorted(by_target.items()):
        with transaction.atomic():
            for table in ENDPOINT_TABLES:
                result.rollup_rows += _move_rollups(table, project.id, olds, target)
            AlertRule.objects.filter(project=project, endpoint_id__in=olds).update(
                endpoint_id=target
            )
        result.raw_rows += _repoint_raw(project.id, olds, target, route)
    return result


def _move_rollups(table: str, project_id: int, olds: list[int], target: int) -> int:
    keys, values = TABLES[table]
    key_names = [name for name, _ in keys]
    value_names = [name for name, _ in values]
    others = [k for k in key_names if k != "endpoint_id"]
    target_mark = "%s::bigint" if connection.vendor == "postgresql" else "%s"
    select = ", ".join(
        [(target_mark if k == "endpoint_id" else k) for k in key_names]
        + [f"sum({v})" for v in value_names]
    )
    cols = ", ".join(key_names + value_names)
    group = ", ".join(others)
    updates = ", ".join(f"{v} = {table}.{v} + excluded.{v}" for v in value_names)
    conflict = f"ON CONFLICT ({', '.join(key_names)}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH moved AS (DELETE FROM {table} WHERE project_id = %s "
                f"AND endpoint_id = ANY(%s) RETURNING {cols}) "
                f"INSERT INTO {table} ({cols}) SELECT {select} FROM moved "
                f"GROUP BY {group} ORDER BY {group} {conflict}",
                [project_id, olds, target],
            )
            return cursor.rowcount
        # SQLite: one writer at a time, so reading, adding and deleting in one transaction
        # is exact.
        marks = ", ".join(["%s"] * len(olds))
        where = f"project_id = %s AND endpoint_id IN ({marks})"
        cursor.execute(
            f"INSERT INTO {table} ({cols}) SELECT {select} FROM {table} WHERE {where} "
            f"GROUP BY {group} {conflict}",
            [target, project_id, *olds],
        )
        cursor.execute(f"DELETE FROM {table} WHERE {where}", [project_id, *olds])
        return cursor.rowcount


def _repoint_raw(project_id: int, olds: list[int], target: int, route: str) -> int:
    """Point the raw rows of the merged endpoints at the target, a chunk per transaction."""
    table = Request._meta.db_table
    done = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"UPDATE {table} SET endpoint_id = %s, route = %s WHERE (id, ts) IN "
                    f"(SELECT id, ts FROM {table} WHERE endpoint_id = ANY(%s) "
                    f"AND project_id = %s LIMIT {RAW_CHUNK})",
                    [target, route, olds, project_id],
                )
            else:
                marks = ", ".join(["%s"] * len(olds))
                cursor.execute(
                    f"UPDATE {table} SET endpoint_id = %s, route = %s WHERE id IN "
                    f"(SELECT id FROM {table} WHERE endpoint_id IN ({marks}) "
                    f"AND project_id = %s LIMIT {RAW_CHUNK})",
                    [target, route, *olds, project_id],
                )
            moved = cursor.rowcount
        done += moved
        if moved < RAW_CHUNK:
            return done
