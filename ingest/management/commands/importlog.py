import hashlib
import os
import signal
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError
from tqdm import tqdm

from ingest import time_bounds
from ingest.backfill import backfill
from ingest.decode import BodyError
from ingest.follow import Follower
from ingest.formats import FORMATS
from ingest.sources import SourceError, slug_for
from monitor.models import Project


class Command(BaseCommand):
    help = (
        "Backfill an existing access log (a file, gzip or not, or - for stdin) into a project, "
        "through the same parse, normalize and store path as HTTP ingest. Safe to run twice: "
        "records already stored count as duplicates. With --follow, keep storing the lines "
        "written to a live log, across rotations and restarts."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="the log file, gzip'd or not; - reads stdin")
        parser.add_argument("--project", required=True, help="project slug (created if needed)")
        parser.add_argument(
            "--format",
            default="",
            choices=["", *sorted(FORMATS)],
            help="the log's format (else detected per record)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=1000, help="records per stored batch (default 1000)"
        )
        parser.add_argument(
            "--max-age",
            type=int,
            metavar="DAYS",
            help="accept records up to DAYS old, for a backfill (default "
            "CONFLICTWATCH_MAX_RECORD_AGE_DAYS; at most CONFLICTWATCH_ROLLUP_RETENTION_DAYS)",
        )

        parser.add_argument(
            "--follow",
            action="store_true",
            help="keep following the file as it grows (rotation by rename or truncation; "
            "resumes at its saved position after a restart) until SIGTERM or SIGINT",
        )
        parser.add_argument(
            "--state",
            metavar="PATH",
            help="with --follow: the file keeping the position reached (default: "
            "importlog-<project>-<hash of the log's path>.json in $STATE_DIRECTORY, else in "
            "~/.local/state/conflictwatch)",
        )
        parser.add_argument(
            "--poll",
            type=float,
            default=1.0,
            metavar="SECONDS",
            help="with --follow: how often to look for new lines at the end of the file",
        )

    def handle(self, *args, **opts):
        try:
            slug = slug_for(opts["project"])
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        if opts["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        max_age = opts["max_age"]
        if max_age is not None:
            longest = settings.CONFLICTWATCH_ROLLUP_RETENTION_DAYS
            if not 1 <= max_age <= longest:
                raise CommandError(
                    f"--max-age must be 1 to {longest} days (CONFLICTWATCH_ROLLUP_RETENTION_DAYS):"
                    " older records would be pruned from every rollup"
                )
        name = opts["file"]
        if opts["follow"]:
            return self.follow(slug, Path(name), opts)
        if name == "-":
            raw, total, label = sys.stdin.buffer, None, "stdin"
        else:
            path = Path(name)
            try:
                raw = path.open("rb")
            except OSError as exc:
                raise CommandError(f"cannot read {name}: {exc.strerror}") from None
            total, label = path.stat().st_size, path.name
        project, created = Project.objects.get_or_create(slug=slug, defaults={"name": slug})
        if created:
            self.stderr.write(f"created project {slug!r}")

        # The bar follows the bytes of a file (its compressed bytes for gzip), else lines.
        stderr = getattr(self.stderr, "_out", sys.stderr)
        if total is not None:
            bar = tqdm(total=total, unit="B", unit_scale=True, desc=label, file=stderr)
        else:
            bar = tqdm(unit=" lines", desc=label, file=stderr)

        def progress(lines: int) -> None:
            bar.update((raw.tell() if total is not None else lines) - bar.n)

        # A file is read by a second process (multiprocessing closes stdin there), and can be
        # read again after a crash (lines taken from stdin cannot).
        from_file = raw is not sys.stdin.buffer
        started = time.monotonic()
        try:
            summary = backfill(
                project,
                raw,
                opts["format"] or None,
                batch_size=opts["batch_size"],
                limit=settings.CONFLICTWATCH_MAX_BODY_BYTES,
                max_age_days=max_age,
                progress=progress,
                parallel=from_file,
                rereadable=from_file,
            )
        except BodyError as exc:
            raise CommandError(f"{label}: {exc.message}") from None
        except DatabaseError as exc:
            # Batches stored so far are kept; a second run stores only what is missing.
            raise CommandError(
                f"{label}: the database failed ({str(exc).strip()[:200]}); "
                "run the same command again to import the rest"
            ) from None
        finally:
            bar.close()
            if raw is not sys.stdin.buffer:
                raw.close()
        for number, reason in summary.bad:
            self.stderr.write(f"{summary.unit} {number}: {reason}")
        if summary.rejected > len(summary.bad):
            self.stderr.write(f"... and {summary.rejected - len(summary.bad)} more bad records")
        self.stdout.write(
            f"imported {label} into {slug}: {summary.lines:,} {summary.unit}s, "
            f"{summary.accepted:,} accepted, {summary.duplicates:,} duplicates, "
            f"{summary.rejected:,} rejected in {time.monotonic() - started:.1f} s"
        )
        if summary.rejected and any("older than" in reason for _, reason in summary.bad):
            days = max_age or time_bounds.default_max_age_days()
            self.stderr.write(
                f"records older than {days} days were rejected; --max-age DAYS accepts older ones"
            )

    def follow(self, slug: str, path: Path, opts: dict) -> None:
        if str(path) == "-":
            raise CommandError("--follow needs a file, not stdin")
        if not opts["poll"] > 0:
            raise CommandError("--poll must be more than 0 seconds")
        path = path.absolute()
        if path.is_dir():
            # A log not created yet is waited for; a directory never becomes one.
            raise CommandError(f"cannot follow {path}: it is a directory")
        state = Path(opts["state"]) if opts["state"] else default_state(slug, path)
        project, created = Project.objects.get_or_create(slug=slug, defaults={"name": slug})
        if created:
            self.stderr.write(f"created project {slug!r}")
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stop)
        follower = Follower(
            project,
            path,
            state,
            opts["format"] or None,
            batch_size=opts["batch_size"],
            poll=opts["poll"],
            max_age_days=opts["max_age"],
            say=lambda text: self.stderr.write(text),
        )
        self.stderr.write(f"following {path} into {slug} (position kept in {state})")
        try:
            summary = follower.run(stop=lambda: bool(stopping))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except DatabaseError as exc:
            raise CommandError(
                f"{path}: the database failed ({str(exc).strip()[:200]}); "
                "run the same command again to go on from the saved position"
            ) from None
        for number, reason in summary.bad:
            self.stderr.write(f"{summary.unit} {number}: {reason}")
        self.stdout.write(
            f"followed {path} into {slug}: {summary.accepted:,} accepted, "
            f"{summary.duplicates:,} duplicates, {summary.rejected:,} rejected"
        )


def default_state(slug: str, path: Path) -> Path:
    """$STATE_DIRECTORY (systemd's StateDirectory=) or ~/.local/state/conflictwatch."""
    folder = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    base = Path(folder) if folder else Path.home() / ".local" / "state" / "conflictwatch"
    digest = hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
    return base / f"importlog-{slug}-{digest}.json"
