"""Follow a live access log (`importlog --follow FILE`): store its lines as they are written,
through the same path as a one-off import.

The position reached is kept in a small state file: the file's device and inode, a fingerprint
of its first line and the byte offset of the first line not yet stored, written (atomically)
after each stored batch. A restart resumes there:

- the same file, at least as long as the offset and with the same first line: from the offset;
- renamed away (logrotate's default, `access.log` → `access.log.1`): the rest of the renamed
  file is read first, found by its inode among its directory's files, then the new file;
- truncated in place (logrotate's `copytruncate`): the file is read again from its start.

While running, the same checks are made whenever the reader is at the end of the file.

No line is stored twice: a line's dedup key is the one `importlog FILE` gives it (its request
id, else its content and its occurrence number among the file's identical lines, see
ingest/lookalikes.py), so a batch stored just before a crash, whose offset was not yet saved,
is read again and counted as duplicates. On a restart the lines before the offset are read
again, without being stored, only to count their look-alikes.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ingest import partitions
from ingest.backfill import BOM, MAX_LINE, Summary, import_batch, number_again, numbered_items
from ingest.lookalikes import FileOccurrences
from ingest.normalize import ProjectRules
from monitor.models import Project

READ_SIZE = 1 << 20
HEAD_BYTES = 256  # the first line's fingerprint covers at most this much of it


@dataclass
class Position:
    """Where following a log has got to: the file (device, inode, first line's fingerprint)
    and the offset of the first byte not yet stored."""

    dev: int
    ino: int
    head: str
    offset: int


def load_position(state: Path) -> Position | None:
    try:
        data = json.loads(state.read_text())
        return Position(int(data["dev"]), int(data["ino"]), str(data["head"]), int(data["offset"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{state}: not a follow state file ({exc})") from None


def save_position(state: Path, position: Position) -> None:
    """Write the state file whole or not at all (a temporary file renamed over it)."""
    state.parent.mkdir(parents=True, exist_ok=True)
    tmp = state.with_name(state.name + ".tmp")
    with tmp.open("w") as out:
        json.dump(asdict(position), out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, state)


def fingerprint(fd: int) -> str:
    """A hash of the file's first line (up to HEAD_BYTES); "" while it has no whole line."""
    start = os.pread(fd, HEAD_BYTES, 0)
    end = start.find(b"\n")
    if end < 0 and len(start) < HEAD_BYTES:
        return ""
    head = start if end < 0 else start[:end]
    return hashlib.blake2b(head, digest_size=8).hexdigest()


def _same_file(fd: int, position: Position) -> bool:
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (position.dev, position.ino) or st.st_size < position.offset:
        return False
    return not position.head or fingerprint(fd) == position.head


def _open(path: Path) -> int | None:
    try:
        return os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None


def _renamed(path: Path, position: Position) -> tuple[int, Path] | None:
    """The file of the saved position after a rename (in the same directory, same inode): an
    open descriptor and its name."""
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (position.dev, position.ino) and entry.is_file():
            fd = _open(Path(entry.path))
            if fd is not None and _same_file(fd, position):
                return fd, Path(entry.path)
            if fd is not None:
                os.close(fd)
    return None


class Follower:
    """Reads one log as it grows, across rotations, and stores it in batches."""

    def __init__(
        self,
        project: Project,
        path: Path,
        state: Path,
        fmt: str | None,
        *,
        batch_size: int = 1000,
        poll: float = 1.0,
        max_age_days: int | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.project = project
        self.path = path
        self.state = state
        self.fmt = fmt
        self.batch_size = batch_size
        self.poll = poll
        self.max_age_days = max_age_days
        self.say = say
        self.rules = ProjectRules.for_project(project)
        self.summary = Summary()
        self.fd: int | None = None
        self.position: Position | None = None
        self.occurrences = FileOccurrences()
        # The day partitions a catching-up follower fills are analysed as they grow.
        self.statistics = partitions.Statistics()
        self.buffer = b""
        self.lines_read = 0  # lines of the current file before the buffer (numbering)
        self.rotated = False  # the open file is not (any longer) the one at `path`
        self.stop: Callable[[], bool] = lambda: False

    # -- choosing the file ------------------------------------------------------------------
    def _start_file(self, fd: int) -> None:
        """Read `fd` from its start: a new file (or one truncated, which is new content)."""
        self._close()
        st = os.fstat(fd)
        self.fd = fd
        self.position = Position(st.st_dev, st.st_ino, fingerprint(fd), 0)
        self.occurrences = FileOccurrences()
        self.buffer = b""
        self.lines_read = 0
        save_position(self.state, self.position)

    def _resume(self, fd: int, position: Position, name: Path | None = None) -> None:
        """Continue `fd` (the followed path, or the file `name` it was renamed to) at the saved
        offset, its earlier lines numbered again first."""
        self._close()
        self.fd = fd
        self.position = position
        self.occurrences = FileOccurrences()
        self.buffer = b""
        self.lines_read = 0
        if position.offset:
            self.say(f"resuming {name or self.path} at byte {position.offset:,}")
        done = 0
        while done < position.offset:
            chunk = os.pread(fd, min(READ_SIZE, position.offset - done), done)
            if not chunk:
                break
            done += len(chunk)
            for batch, _ in self._take_lines(chunk, final=done >= position.offset):
                number_again(self.rules, batch, self.fmt, self.occurrences, self.max_age_days)

    def open(self) -> bool:
        """Pick up where the saved state left off, or start the file from its beginning (once
        it exists); False when told to stop before."""
        saved = load_position(self.state)
        fd = _open(self.path)
        if saved is not None:
            if fd is not None and _same_file(fd, saved):
                self._resume(fd, saved)
                return True
            renamed = _renamed(self.path, saved)
            if renamed is not None:
                if fd is not None:
                    os.close(fd)
                old, name = renamed
                self.say(f"{self.path} was rotated: reading the rest of {name} first")
                self._resume(old, saved, name)
                self.rotated = True
                return True
            self.say(
                f"{self.path} is not the file of the saved position, and that file is gone "
                "(rotated and compressed or removed, or copied and truncated): "
                f"the lines written to it after byte {saved.offset:,}, if any, are not stored; "
                "importlog each rotated file to store them (lines already stored count as "
                f"duplicates). Reading {self.path} from its start"
            )
        if fd is None:
            self.say(f"waiting for {self.path} to exist")
        while fd is None:
            if self.stop():
                return False
            time.sleep(self.poll)
            fd = _open(self.path)
        self._start_file(fd)
        return True

    def _close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # -- reading ------------------------------------------------------------------------------
    def _take_lines(self, data: bytes, final: bool = False):
        """Whole lines of buffer + data in batches: (batch of (line number, item), bytes of
        buffer + data it ends at). The rest of a line stays in the buffer, unless `final` (the
        file will not grow any more)."""
        data = self.buffer + data
        end = len(data) if final else data.rfind(b"\n") + 1
        self.buffer = data[end:]
        numbered: list[tuple[int, bytes]] = []
        start = 0
        while start < end:
            stop = data.find(b"\n", start, end)
            stop = end if stop < 0 else stop + 1
            self.lines_read += 1
            line = data[start:stop]
            line = (line.removeprefix(BOM) if self.lines_read == 1 else line).strip()
            start = stop
            if line:
                numbered.append((self.lines_read, line[:MAX_LINE]))
            if len(numbered) >= self.batch_size:
                yield numbered_items(numbered), start
                numbered = []
        if numbered:
            yield numbered_items(numbered), end

    def _read_available(self, final: bool = False) -> bool:
        """Store every whole line written so far, saving the position after each batch;
        True when there were new bytes."""
        got = False
        while not self.stop():
            base = self.position.offset
            chunk = os.pread(self.fd, READ_SIZE, base + len(self.buffer))
            if not chunk and not (final and self.buffer):
                return got
            got = got or bool(chunk)
            last = final and len(chunk) < READ_SIZE
            for batch, ends_at in self._take_lines(chunk, final=last):
                self._store(batch)
                self.position.offset = base + ends_at
                if not self.position.head:
                    self.position.head = fingerprint(self.fd)
                save_position(self.state, self.position)
            if last:
                break
        return got

    def _store(self, batch) -> None:
        import_batch(
            self.project,
            self.rules,
            batch,
            self.fmt,
            self.occurrences,
            self.summary,
            self.max_age_days,
            self.statistics,
        )

    def _check_rotation(self) -> None:
        """At the end of the file: a truncated file is read from its start; once the path names
        another file, the renamed one is finished (its last line even without a newline) and
        the new one started."""
        st = os.fstat(self.fd)
        if st.st_size < self.position.offset + len(self.buffer) or (
            self.position.head and fingerprint(self.fd) != self.position.head
        ):
            self.say(f"{self.path} was truncated: reading it from its start")
            fd, self.fd = self.fd, None
            self._start_file(fd)
            return
        if not self.rotated:
            try:
                now = os.stat(self.path)
            except FileNotFoundError:
                return  # renamed, the new one not created yet: keep reading the old one
            # Once renamed: one more quiet round on the old file before leaving it.
            self.rotated = (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino)
            return
        fd = _open(self.path)
        if fd is None:
            return
        self._read_available(final=True)
        self.say(f"{self.path} was rotated: following the new file")
        self.rotated = False
        self._start_file(fd)

    def run(self, stop: Callable[[], bool]) -> Summary:
        """Follow until `stop()` says so (checked between batches)."""
        self.stop = stop
        if not self.open():
            return self.summary
        try:
            while not stop():
                if not self._read_available():
                    self._check_rotation()
                    if not self._read_available():
                        time.sleep(self.poll)
        finally:
            self._close()
        return self.summary
