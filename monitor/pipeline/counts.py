"""What one aggregation (or finalisation) transaction writes: rollup counts and the decided
conflicts' rows, built in Python, then written in one fixed order.

`Counts.tables` is {table: {key tuple: value list}}, keys and values in the column orders the
rollup models declare (monitor/pipeline/rollups.py: TABLES). `Counts.decided` holds the rows
the write-back sets (monitor/pipeline/writeback.py).
"""

from dataclasses import dataclass, field
from datetime import datetime

from ingest.prepared import pipeline
from monitor.models import (
    ClientRollup,
    LatencyRollup,
    OutcomeRollup,
    RacePairRollup,
    ResourceRollup,
    StatusRollup,
)
from monitor.pipeline import rollups
from monitor.pipeline.writeback import Decided, write_back
from monitor.rules.causes import WRITE_METHODS, RaceWinner
from monitor.rules.latency import bucket_for
from monitor.rules.timebuckets import MINUTE, floor
from monitor.rules.versions import DEFAULT_SIGNALS, VersionSignals

STATUS = StatusRollup._meta.db_table
LATENCY = LatencyRollup._meta.db_table
CLIENT = ClientRollup._meta.db_table
OUTCOME = OutcomeRollup._meta.db_table
RESOURCE = ResourceRollup._meta.db_table
RACE = RacePairRollup._meta.db_table

# Positions of the client rollup's value columns.
_CLIENT_COLUMNS = rollups.value_names(CLIENT)
CLIENT_VALUES = len(_CLIENT_COLUMNS)
REQUESTS, CONFLICTS, SUFFERED, CAUSED, WRITES = (
    _CLIENT_COLUMNS.index(name)
    for name in ("requests", "conflicts", "suffered", "caused", "writes")
)
CONDITIONAL, WEAK, CREATES, CREATES_WITHOUT_KEY = (
    _CLIENT_COLUMNS.index(name)
    for name in ("conditional_writes", "weak_etag_writes", "creates", "creates_without_key")
)

# Tables whose counts move between keys; a key moved away from can be left at zero.
MOVING = (OUTCOME, RESOURCE, STATUS)
# The order in which every transaction writes the rollup tables (one lock order for all
# workers). The conflict-analysis tables come first: in a pipeline Postgres writes them while
# the larger status, latency and client counts are still being sent.
WRITE_ORDER = (OUTCOME, RACE, RESOURCE, CLIENT, STATUS, LATENCY)


def minute_of(ts: datetime) -> datetime:
    return floor(ts, MINUTE)


def sent_precondition(row: dict, signals: VersionSignals = DEFAULT_SIGNALS) -> bool:
    """Whether a stored request carried a version signal (precondition coverage)."""
    return signals.sent(row["request_headers"], row.get("query")) is not None


@dataclass
class Counts:
    """Rollup counts and decided rows of one project, to be written in one transaction."""

    project_id: int
    tables: dict[str, dict[tuple, list]] = field(default_factory=dict)
    decided: list[Decided] = field(default_factory=list)
    signals: VersionSignals = DEFAULT_SIGNALS

    def write(self) -> None:
        """Both writes below, as one pipeline on Postgres (no wait for each statement)."""
        with pipeline():
            self.write_decided()
            self.write_rollups()

    def write_decided(self) -> None:
        write_back(self.decided)

    def write_rollups(self, copy: bool = False) -> None:
        """Add every table's counts, each followed by dropping the rows that moves emptied
        (tables in WRITE_ORDER, keys sorted: one lock order for all workers). A key whose
        count sums to zero here (counted, then moved away, within these counts) is checked
        too: its row may be one the upsert just made with nothing in it. `copy`: many counts
        go through COPY (rollups.add; not inside a pipeline)."""
        for table in sorted(self.tables, key=WRITE_ORDER.index):
            counts = self.tables[table]
            rollups.add(table, counts, copy)
            if table in MOVING:
                rollups.drop_empty(table, [k for k, v in counts.items() if v[0] <= 0])

    def bump(self, table: str, key: tuple, values: tuple) -> None:
        acc = self.tables.setdefault(table, {}).get(key)
        if acc is None:
            self.tables[table][key] = list(values)
            return
        for i, v in enumerate(values):
            acc[i] += v

    def client(self, minute: datetime, endpoint_id: int, client: str | None, col: int, n=1):
        values = [0] * CLIENT_VALUES
        values[col] = n
        self.bump(CLIENT, (self.project_id, minute, endpoint_id, client or ""), tuple(values))

    def requests(self, rows: list[dict], causes: dict[int, str]) -> None:
        """Count a batch's rows ({id: cause} for its conflicts): status and latency per
        endpoint × minute; requests, conflicts, preconditions and creates per client ×
        endpoint × minute."""
        project_id = self.project_id
        status_counts = self.tables.setdefault(STATUS, {})
        latency_counts = self.tables.setdefault(LATENCY, {})
        client_counts = self.tables.setdefault(CLIENT, {})
        for row in rows:
            minute = floor(row["ts"], MINUTE)
            cause = causes.get(row["id"], "")
            key = (project_id, minute, row["endpoint_id"], row["status"], cause)
            acc = status_counts.get(key)
            if acc is None:
                acc = status_counts[key] = [0, 0.0, 0, 0]
            acc[0] += 1
            duration = row["duration_ms"]
            if duration is not None:
                acc[1] += duration
                lkey = (project_id, minute, row["endpoint_id"], bucket_for(duration))
                latency_counts.setdefault(lkey, [0])[0] += 1
            write = row["method"] in WRITE_METHODS
            if write:
                acc[2] += 1
                if row["conditional"]:
                    acc[3] += 1
            ckey = (project_id, minute, row["endpoint_id"], row["client"] or "")
            cacc = client_counts.get(ckey)
            if cacc is None:
                cacc = client_counts[ckey] = [0] * CLIENT_VALUES
            cacc[REQUESTS] += 1
            if cause:
                cacc[CONFLICTS] += 1
            if write:
                cacc[WRITES] += 1
                if row["conditional"]:
                    cacc[CONDITIONAL] += 1
                if row["weak"]:
                    cacc[WEAK] += 1
                if row["method"] == "POST":
                    cacc[CREATES] += 1
                    if not row["keyed"]:
                        cacc[CREATES_WITHOUT_KEY] += 1

    def conflict(self, row: dict, cause: str, outcome: str | None, resolved_ms, sign: int):
        """Count (sign +1) or uncount (-1) a conflict under a cause and an outcome."""
        p = self.project_id
        minute = minute_of(row["ts"])
        self.bump(
            OUTCOME,
            (p, minute, row["endpoint_id"], row["client"] or "", cause, outcome or ""),
            (sign, sign * (resolved_ms or 0.0)),
        )
        self.bump(RESOURCE, (p, minute, row["endpoint_id"], row["resource"], cause), (sign,))

    def unclassified(self, row: dict) -> None:
        """A conflict counted per resource as `unknown` (aggregation without the analysis)."""
        key = (self.project_id, minute_of(row["ts"]), row["endpoint_id"], row["resource"])
        self.bump(RESOURCE, (*key, "unknown"), (1,))

    def cause_moved(self, row: dict, old: str, new: str) -> None:
        """Move a stored conflict between causes in the status rollup."""
        minute = minute_of(row["ts"])
        duration = row["duration_ms"] or 0.0
        write = 1 if row["method"] in WRITE_METHODS else 0
        conditional = 1 if write and sent_precondition(row, self.signals) else 0
        for cause, sign in ((old, -1), (new, +1)):
            self.bump(
                STATUS,
                (self.project_id, minute, row["endpoint_id"], row["status"], cause),
                (sign, sign * duration, sign * write, sign * conditional),
            )

    def race(self, row: dict, winner: RaceWinner, sign: int = 1) -> None:
        """The loser suffered a conflict that the winner's client caused (sign -1: a closer
        winner took its place)."""
        minute = minute_of(row["ts"])
        self.client(minute, row["endpoint_id"], row["client"], SUFFERED, sign)
        self.client(minute, row["endpoint_id"], winner.client, CAUSED, sign)
        self.bump(
            RACE,
            (self.project_id, row["resource"], minute, winner.client or "", row["client"] or ""),
            (sign,),
        )
