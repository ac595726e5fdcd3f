"""Backfill an existing access log (a file or stdin, gzip or not) into a project, in batches,
through the same normalize → store path as HTTP ingest: the dedup keys are the same, so a second
run stores nothing new. A bad line is counted and reported, never the end of the run."""

import gzip
import io
import logging
import multiprocessing
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date
from multiprocessing.connection import Connection
from typing import BinaryIO

import msgspec
from django.db import DatabaseError, connection, transaction

from ingest import partitions, time_bounds
from ingest.decode import BodyError, Item, line_items, split_items
from ingest.lookalikes import FileOccurrences
from ingest.models import IngestBatch
from ingest.normalize import ProjectRules, clean_text
from ingest.pipeline import Outcome, normalize_items, store
from ingest.record import NativeRecord
from ingest.storage import enqueue_aggregation
from monitor.models import Project
from monitor.pipeline.aggregate import aggregate_together
from monitor.rules.causes import CONFLICT_STATUSES

GZIP_MAGIC = b"\x1f\x8b"
# A UTF-8 byte order mark, which some editors write at the start of a file: not log data.
BOM = b"\xef\xbb\xbf"
MAX_REPORTED = 5
MAX_LINE = 1 << 20  # a longer line is not a log line; it is cut and rejected by normalization
# Records stored between two aggregations of a backfill's batches (PendingBatches).
AGGREGATE_EVERY = 20_000
# Conflicts stored between two aggregations at most: each one an aggregation analyses stays
# locked until it commits, and a live batch deciding conflicts on the same resources waits.
CONFLICTS_EVERY = 500
log = logging.getLogger(__name__)


@dataclass
class Summary:
    lines: int = 0  # lines read (items, for a file that is one JSON document)
    unit: str = "line"
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    # (line number, reason) of the first bad lines.
    bad: list[tuple[int, str]] = field(default_factory=list)

    @property
    def records(self) -> int:
        return self.accepted + self.duplicates + self.rejected


def open_log(raw: BinaryIO) -> BinaryIO:
    """The log's bytes: gzip is recognised by its magic bytes, not by the file name."""
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)
    if raw.peek(2)[:2] == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")
    return raw


def _first_line_alone(stream: BinaryIO) -> tuple[bytes, bool]:
    """The first line, and whether it reads on its own (a JSON value or a text line), unlike
    the first line of a pretty-printed document. A line that is a whole object, however
    broken inside (nginx's `\\x22` without `escape=json`), is the first line of a log."""
    first = stream.readline(MAX_LINE).removeprefix(BOM)
    stripped = first.strip()
    if stripped[:1] == b"{" and stripped[-1:] == b"}" and len(stripped) > 2:
        return first, True
    try:
        split_items(first)
        return first, True
    except BodyError:
        return first, False


def _numbered_lines(stream: BinaryIO, first: bytes) -> Iterator[tuple[int, bytes]]:
    number = 0
    for line in _chain(first, stream):
        number += 1
        line = line.strip()
        if line:
            yield number, line[:MAX_LINE]


def _chain(first: bytes, stream: BinaryIO) -> Iterator[bytes]:
    if first:
        yield first
    yield from stream


# What reading a gzip'd log that ends early (still being compressed, or cut short) or is
# damaged raises, as its data is reached.
_UNREADABLE = (EOFError, gzip.BadGzipFile, zlib.error)


def _unreadable(after: int) -> BodyError:
    where = f"after line {after:,}" if after else "before its first line"
    return BodyError(
        400,
        f"the gzip data ends early (still being compressed, or cut short) or is damaged {where};"
        " the lines read before are stored: run the same command again once the file is whole "
        "to store the rest",
    )


def _batches(
    stream: BinaryIO, batch_size: int, limit: int, summary: "Summary"
) -> Iterator[list[tuple[int, Item]]]:
    """Batches of (line number, item). A log of lines streams; a file that is one JSON document
    (a pretty-printed array or object, e.g. a saved Kong batch) is read whole, up to `limit`,
    and numbered by item. A gzip'd log that cannot be read to its end gives the batches read
    before, then a BodyError."""
    try:
        first, stands_alone = _first_line_alone(stream)
    except _UNREADABLE:
        raise _unreadable(0) from None
    if first.lstrip()[:1] in (b"[", b"{") and not stands_alone:
        summary.unit = "item"
        try:
            data = first + stream.read(limit + 1 - len(first))
        except _UNREADABLE:
            raise _unreadable(0) from None
        if len(data) > limit:
            raise BodyError(413, f"a JSON document over {limit} bytes; convert it to NDJSON")
        items = list(enumerate(split_items(data, max_items=None), start=1))
        for start in range(0, len(items), batch_size):
            yield items[start : start + batch_size]
        return
    batch: list[tuple[int, bytes]] = []
    last = 0
    try:
        for numbered in _numbered_lines(stream, first):
            last = numbered[0]
            batch.append(numbered)
            if len(batch) >= batch_size:
                yield numbered_items(batch)
                batch = []
    except _UNREADABLE:
        if batch:
            yield numbered_items(batch)
        raise _unreadable(last) from None
    if batch:
        yield numbered_items(batch)


def numbered_items(batch: list[tuple[int, bytes]]) -> list[tuple[int, Item]]:
    numbered = []
    for (number, _), item in zip(batch, line_items([line for _, line in batch]), strict=True):
        if isinstance(item.value, list):
            # A line holding a JSON array (a saved Kong or APISIX batch): one item per element.
            numbered += [(number, Item(value=value)) for value in item.value]
        else:
            numbered.append((number, item))
    return numbered


class Parsed(msgspec.Struct):
    """A batch normalized: what the storing side needs of it (sent between the processes)."""

    last_line: int
    unit: str
    records: list[NativeRecord]
    rejected: int
    bad: list[tuple[int, str]]


def parse_batch(
    rules: ProjectRules,
    batch: list[tuple[int, Item]],
    fmt: str | None,
    unit: str = "line",
    max_age_days: int | None = None,
    reported: int = 0,
) -> Parsed:
    """Normalize one batch of (line number, item); the reasons of at most MAX_REPORTED -
    `reported` bad lines are kept."""
    records = []
    parsed = Parsed(batch[-1][0] if batch else 0, unit, records, 0, [])
    bounds = time_bounds.bounds(max_age_days)
    for item_index, result in normalize_items([item for _, item in batch], fmt, rules, bounds):
        if isinstance(result, str):
            parsed.rejected += 1
            if reported + len(parsed.bad) < MAX_REPORTED:
                parsed.bad.append((batch[item_index][0], clean_text(result, 300)))
        else:
            records.append(result)
    return parsed


def store_parsed(
    project: Project,
    parsed: Parsed,
    occurrences: FileOccurrences,
    summary: Summary,
    statistics: partitions.Statistics | None = None,
    pending: "PendingBatches | None" = None,
) -> None:
    """Store a normalized batch, counted into the summary; with `statistics`, the partitions
    the import fills are analysed as they grow; with `pending`, the batch is left to it to
    aggregate (else it is aggregated as HTTP ingest's batches are)."""
    outcome = Outcome(rejected=parsed.rejected)
    store(
        project,
        None,
        parsed.records,
        outcome,
        occurrences=occurrences,
        aggregate=pending is None,
    )
    if pending is not None and outcome.batch_id is not None:
        conflicts = sum(1 for r in parsed.records if r.status in CONFLICT_STATUSES)
        pending.add(outcome.batch_id, outcome.accepted, conflicts)
    if statistics is not None and outcome.accepted:
        statistics.stored(_days(parsed.records))
    summary.accepted += outcome.accepted
    summary.duplicates += outcome.duplicates
    summary.rejected += outcome.rejected
    summary.bad += parsed.bad
    summary.unit = parsed.unit
    summary.lines = max(summary.lines, parsed.last_line)


class PendingBatches:
    """The batches a backfill stored and left pending, aggregated together every `every`
    records or `conflicts_every` conflicts, whichever comes first
    (monitor/pipeline/aggregate.py: aggregate_together): the rollups are written once per some
    tens of batches instead of once per batch, and a live batch deciding conflicts on the same
    resources waits for the conflicts of one aggregation at most, not for those of twenty
    thousand records. A batch is marked done in the
    transaction that adds its counts, so one stored but not yet aggregated when the import
    stops (an error, a kill) stays pending for the sweep, or for the next import of the
    project, which starts with them: counted once, never lost.

    `apart`: each aggregation runs in a thread on a database connection of its own while the
    import stores the next batches (on Postgres, outside a transaction: the import's storing
    and its aggregation wait on each other's round trips otherwise, and a third of the
    machine sat idle). One aggregation at a time, in the order the batches were stored."""

    def __init__(
        self,
        project: Project,
        every: int = AGGREGATE_EVERY,
        apart: bool = False,
        conflicts_every: int = CONFLICTS_EVERY,
    ):
        self.every = every
        self.conflicts_every = conflicts_every
        self.apart = apart
        self.running: threading.Thread | None = None
        # Those an interrupted import of the project left behind.
        self.ids = list(
            IngestBatch.objects.filter(
                project=project, source=None, status=IngestBatch.Status.PENDING
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        self.records = 0
        self.conflicts = 0

    def add(self, batch_id: int, records: int, conflicts: int = 0) -> None:
        self.ids.append(batch_id)
        self.records += records
        self.conflicts += conflicts
        if self.records >= self.every or self.conflicts >= self.conflicts_every:
            self.aggregate()

    def aggregate(self) -> None:
        """Aggregate them all (apart: once the aggregation before has finished)."""
        ids, self.ids, self.records, self.conflicts = self.ids, [], 0, 0
        self.wait()
        if not ids:
            return
        if not self.apart:
            _aggregate(ids)
            return
        self.running = threading.Thread(
            target=_aggregate_apart, args=(ids,), name="backfill-aggregation"
        )
        self.running.start()

    def wait(self) -> None:
        """Until the aggregation running apart, if any, has finished."""
        if self.running is not None:
            self.running.join()
            self.running = None


def _aggregate(ids: list[int]) -> None:
    """Aggregate the batches together; when that fails, one by one, as their own workers
    would (a batch that fails again stays pending for the sweep)."""
    try:
        aggregate_together(ids)
    except Exception:  # noqa: BLE001 - left to the per-batch aggregation below
        log.warning("backfill: batches aggregated one by one", exc_info=True)
        for batch_id in ids:
            enqueue_aggregation(batch_id)


def _aggregate_apart(ids: list[int]) -> None:
    """`_aggregate` in a thread: on the thread's own connection, closed when done."""
    try:
        _aggregate(ids)
    finally:
        connection.close()


def _days(records: list[NativeRecord]) -> Counter[date]:
    """{UTC day: records} (the day partitions the records go to)."""
    return Counter(r.ts.astimezone(UTC).date() for r in records)


def import_batch(
    project: Project,
    rules: ProjectRules,
    batch: list[tuple[int, Item]],
    fmt: str | None,
    occurrences: FileOccurrences,
    summary: Summary,
    max_age_days: int | None = None,
    statistics: partitions.Statistics | None = None,
) -> None:
    """Normalize and store one batch of (line number, item), counted into the summary."""
    parsed = parse_batch(rules, batch, fmt, summary.unit, max_age_days, len(summary.bad))
    store_parsed(project, parsed, occurrences, summary, statistics)


def number_again(
    rules: ProjectRules,
    batch: list[tuple[int, Item]],
    fmt: str | None,
    occurrences: FileOccurrences,
    max_age_days: int | None = None,
) -> None:
    """Count the look-alikes of a batch already stored, storing nothing: what a restart reads
    again so that the lines after it are numbered as one import of the whole file numbers them."""
    occurrences.number(parse_batch(rules, batch, fmt, max_age_days=max_age_days).records)


def _parse_file(
    out: Connection,
    stream: BinaryIO,
    fmt: str | None,
    rules: ProjectRules,
    batch_size: int,
    limit: int,
    max_age_days: int | None,
) -> None:
    """The reading side (a process of its own): read, split and normalize the file's batches
    and send them on; a BodyError is sent as (status, message). The pipe's small buffer keeps
    it at most a batch or two ahead of the storing side."""
    encode = msgspec.msgpack.Encoder().encode
    summary = Summary()
    reported = 0
    try:
        for batch in _batches(open_log(stream), batch_size, limit, summary):
            parsed = parse_batch(rules, batch, fmt, summary.unit, max_age_days, reported)
            reported += len(parsed.bad)
            out.send_bytes(encode(parsed))
    except BodyError as exc:
        out.send_bytes(encode((exc.status, exc.message)))
    out.send_bytes(b"")
    out.close()


def _parsed_batches(
    stream: BinaryIO,
    fmt: str | None,
    rules: ProjectRules,
    batch_size: int,
    limit: int,
    max_age_days: int | None,
) -> Iterator[Parsed]:
    """The file's batches, normalized in a second process while this one stores."""
    decode = msgspec.msgpack.Decoder(Parsed | tuple[int, str]).decode
    receive, send = multiprocessing.get_context("fork").Pipe(duplex=False)
    # The reader never touches the database, and leaves by os._exit (multiprocessing's fork):
    # the connection it inherits is neither used nor closed there.
    reader = multiprocessing.get_context("fork").Process(
        target=_parse_file,
        args=(send, stream, fmt, rules, batch_size, limit, max_age_days),
        daemon=True,
    )
    reader.start()
    send.close()
    try:
        while message := receive.recv_bytes():
            parsed = decode(message)
            if isinstance(parsed, tuple):
                raise BodyError(*parsed)
            yield parsed
    except EOFError:
        raise RuntimeError("the process reading the log stopped unexpectedly") from None
    finally:
        receive.close()
        if reader.is_alive():
            reader.kill()
        reader.join()


def backfill(
    project: Project,
    stream: BinaryIO,
    fmt: str | None,
    *,
    batch_size: int = 1000,
    limit: int = 20 * 1024 * 1024,
    max_age_days: int | None = None,
    progress: Callable[[int], None] | None = None,
    parallel: bool = False,
    rereadable: bool = False,
    aggregate_every: int = AGGREGATE_EVERY,
    conflicts_every: int = CONFLICTS_EVERY,
) -> Summary:
    """Import every record of the log into the project; `progress(lines read)` after each batch.
    `max_age_days` widens the accepted time range (default: CONFLICTWATCH_MAX_RECORD_AGE_DAYS).
    With `parallel`, a second process reads and normalizes while this one stores (the same
    records, in the same order). `rereadable`: the stream can be read again after a crash (a
    file, not stdin), so the commits need not wait for the log (`commits_unflushed`). The
    stored batches are aggregated together every `aggregate_every` records or `conflicts_every`
    conflicts (PendingBatches; on Postgres while the next ones are stored).
    Raises BodyError only for a whole-file JSON document that is too big or not JSON, and for
    a gzip'd log that cannot be read to its end (after storing the lines before)."""
    rules = ProjectRules.for_project(project)
    summary = Summary()
    # Look-alike lines are numbered across the whole file, so that a second run matches.
    occurrences = FileOccurrences()
    statistics = partitions.Statistics()
    # SQLite takes one writer at a time; inside a transaction (a test's) the import's rows are
    # not visible to another connection.
    apart = connection.vendor == "postgresql" and not connection.in_atomic_block
    pending = PendingBatches(project, aggregate_every, apart, conflicts_every)
    if parallel:
        parsed_batches = _parsed_batches(stream, fmt, rules, batch_size, limit, max_age_days)
    else:
        parsed_batches = (
            parse_batch(rules, batch, fmt, summary.unit, max_age_days, len(summary.bad))
            for batch in _batches(open_log(stream), batch_size, limit, summary)
        )
    try:
        with commits_unflushed() if rereadable else nullcontext():
            for parsed in parsed_batches:
                store_parsed(project, parsed, occurrences, summary, statistics, pending)
                if progress is not None:
                    progress(summary.lines)
    finally:
        # What was stored is counted, even when the import stops on an error.
        pending.aggregate()
        pending.wait()
    return summary


@contextmanager
def commits_unflushed() -> Iterator[None]:
    """On Postgres, the import's commits do not wait for the write-ahead log to reach the
    disk (synchronous_commit off: tens of milliseconds per batch on a busy disk). A crash of
    Postgres may then lose the last few commits, whole and in order (a batch with its rows,
    an aggregation with the batches it marked done): nothing half written, and a second run
    stores what is missing. Leaving the block waits until every commit made in it is on disk."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
            # A transaction with an id writes a commit record, and its synchronous commit
            # waits for the log up to it: every earlier commit is durable after this one.
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_current_xact_id()")
        except DatabaseError:
            pass  # the connection is lost, and the setting with it: the first error tells
