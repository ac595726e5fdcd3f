"""manage.py importlog --follow: a live nginx log is stored as it is written, across rotation by
rename and by truncation and across restarts (clean or killed), every line exactly once.

The follower runs as a real process (`manage.py importlog --follow`) on the test database; the
log is written by the test the way nginx and logrotate write it.
"""

import gzip
import io
import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from ingest.models import Request
from tests.stack.stack import ROOT, wait_for

pytestmark = pytest.mark.postgres

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def lines(first: int, count: int, *, same_second: bool = False) -> list[str]:
    """nginx `combined` lines numbered from `first` (the number is in the path). With
    `same_second`, byte-identical lines: one client sending the same request in one second."""
    out = []
    for n in range(first, first + count):
        ts = START + timedelta(seconds=0 if same_second else n)
        stamp = ts.strftime("%d/%b/%Y:%H:%M:%S +0000")
        path = "/v1/ping" if same_second else f"/v1/orders/{n}"
        out.append(f'10.0.0.7 - - [{stamp}] "PUT {path} HTTP/1.1" 409 12 "-" "curl/8.4.0"')
    return out


def append(log: Path, text: list[str], end: str = "\n") -> None:
    with log.open("a") as out:
        out.write("\n".join(text) + end)


def stored() -> int:
    return Request.objects.count()


def paths() -> list[str]:
    return sorted(Request.objects.values_list("path", flat=True))


def imported(path: Path) -> str:
    """What `importlog FILE` (once, not following) says of `path`."""
    out = io.StringIO()
    call_command(
        "importlog",
        str(path),
        "--project",
        "edge",
        "--format",
        "nginx",
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


class Follower:
    """`manage.py importlog FILE --follow` in a process of its own."""

    def __init__(self, log: Path, state: Path, batch_size: int = 4):
        self.stderr = log.with_name("follower.stderr")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "importlog",
                str(log),
                "--project",
                "edge",
                "--format",
                "nginx",
                "--follow",
                "--state",
                str(state),
                "--poll",
                "0.05",
                "--batch-size",
                str(batch_size),
            ],
            cwd=ROOT,
            env=follower_env(),
            stdout=subprocess.PIPE,
            stderr=self.stderr.open("a"),
            text=True,
        )

    def stop(self) -> str:
        """SIGTERM: the follower stores what it has read and exits 0."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, self.stderr.read_text()
        return out

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def alive(self) -> None:
        assert self.process.poll() is None, self.stderr.read_text()


def wait_stored(count: int, follower: Follower) -> None:
    def reached() -> bool:
        follower.alive()
        return stored() >= count

    wait_for(reached, 60, f"{count} stored rows", 0.05)


def wait_saved(state: Path, log: Path) -> None:
    """Until the saved position is the end of the log (what a kill must not come before)."""

    def saved() -> bool:
        try:
            return json.loads(state.read_text())["offset"] == log.stat().st_size
        except (FileNotFoundError, ValueError):
            return False

    wait_for(saved, 30, "the position to be saved", 0.05)


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "access.log"


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "follow.json"


def test_lines_are_stored_as_they_are_written(transactional_db, log, state):
    append(log, lines(0, 6))
    follower = Follower(log, state)
    wait_stored(6, follower)
    # A line being written is stored once it is whole.
    append(log, lines(6, 3))
    with log.open("a") as out:
        out.write(lines(9, 1)[0][:20])
    wait_stored(9, follower)
    with log.open("a") as out:
        out.write(lines(9, 1)[0][20:] + "\n")
    wait_stored(10, follower)
    out = follower.stop()
    assert "10 accepted, 0 duplicates, 0 rejected" in out
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(10))
    saved = json.loads(state.read_text())
    assert saved["offset"] == log.stat().st_size
    assert saved["ino"] == log.stat().st_ino
    # Without a broker the batches are counted in-process, with nothing said about a broker.
    said = follower.stderr.read_text().splitlines()
    assert said == [
        "created project 'edge'",
        f"following {log} into edge (position kept in {state})",
    ]


def test_rotation_by_rename_loses_nothing(transactional_db, log, state):
    append(log, lines(0, 5))
    follower = Follower(log, state)
    wait_stored(5, follower)
    # logrotate renames the file; nginx still writes to it until it reopens its logs,
    # the last line even without its newline.
    log.rename(log.with_name("access.log.1"))
    append(log.with_name("access.log.1"), lines(5, 3), end="")
    append(log, lines(8, 4))  # the new file, after nginx reopened
    wait_stored(12, follower)
    append(log, lines(12, 2))
    wait_stored(14, follower)
    follower.stop()
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(14))
    assert json.loads(state.read_text())["ino"] == log.stat().st_ino


def test_a_byte_order_mark_before_the_first_line_is_not_log_data(transactional_db, log, state):
    log.write_bytes(b"\xef\xbb\xbf")
    append(log, lines(0, 3))
    follower = Follower(log, state)
    wait_stored(3, follower)
    follower.stop()
    assert set(Request.objects.values_list("client_ip", flat=True)) == {"10.0.0.7"}


def test_truncation_in_place_loses_nothing(transactional_db, log, state):
    append(log, lines(0, 5))
    follower = Follower(log, state)
    wait_stored(5, follower)
    # copytruncate: the file is copied, then cut to nothing and written again from its start.
    with log.open("r+") as f:
        f.truncate(0)
    append(log, lines(5, 2))
    wait_stored(7, follower)
    append(log, lines(7, 8))  # longer than the old file: a truncation seen late
    wait_stored(15, follower)
    follower.stop()
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(15))


def test_a_late_seen_truncation_is_found_by_the_first_line(transactional_db, log, state):
    append(log, lines(0, 3))
    follower = Follower(log, state)
    wait_stored(3, follower)
    follower.stop()
    # While the follower is stopped the file is truncated and grows past the saved offset.
    with log.open("r+") as f:
        f.truncate(0)
    append(log, lines(3, 10))
    follower = Follower(log, state)
    wait_stored(13, follower)
    follower.stop()
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(13))


def test_a_restart_resumes_at_the_saved_position(transactional_db, log, state):
    append(log, lines(0, 6))
    follower = Follower(log, state)
    wait_stored(6, follower)
    follower.stop()
    append(log, lines(6, 4))
    follower = Follower(log, state)
    wait_stored(10, follower)
    out = follower.stop()
    # Only the new lines were read: nothing came back as a duplicate.
    assert "4 accepted, 0 duplicates" in out
    assert stored() == 10


def test_a_rotation_while_stopped_finishes_the_renamed_file(transactional_db, log, state):
    append(log, lines(0, 4))
    follower = Follower(log, state)
    wait_stored(4, follower)
    wait_saved(state, log)
    follower.kill()
    append(log, lines(4, 3))
    log.rename(log.with_name("access.log.1"))
    append(log, lines(7, 3))
    follower = Follower(log, state)
    wait_stored(10, follower)
    out = follower.stop()
    assert "6 accepted, 0 duplicates" in out
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(10))
    said = follower.stderr.read_text()
    renamed = log.with_name("access.log.1")
    assert f"{log} was rotated: reading the rest of {renamed} first" in said
    assert f"resuming {renamed} at byte " in said


def test_a_rotated_file_gone_while_stopped_is_named_as_a_possible_loss(
    transactional_db, log, state
):
    """Caddy compresses the file it rolls at once (and logrotate without delaycompress): when
    that happened while the follower was stopped, the rest of the old file cannot be read. The
    follower says so, and how to get those lines, instead of only that it starts anew."""
    append(log, lines(0, 4))
    follower = Follower(log, state)
    wait_stored(4, follower)
    wait_saved(state, log)
    follower.stop()
    append(log, lines(4, 3))
    rotated = log.with_name("access.log.1")
    log.rename(rotated)
    with gzip.open(log.with_name("access.log.1.gz"), "wb") as packed:
        packed.write(rotated.read_bytes())
    rotated.unlink()
    append(log, lines(7, 3))
    follower = Follower(log, state)
    wait_stored(7, follower)
    follower.stop()
    said = follower.stderr.read_text()
    offset = json.loads(state.read_text())["offset"]
    assert (
        f"{log} is not the file of the saved position, and that file is gone (rotated and "
        "compressed or removed, or copied and truncated): the lines written to it after byte "
    ) in said
    assert "are not stored; importlog each rotated file to store them" in said
    assert offset == log.stat().st_size
    # As said: importing the rotated file stores what was missing, the rest are duplicates.
    assert "3 accepted, 4 duplicates" in imported(log.with_name("access.log.1.gz"))
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(10))


def test_a_truncation_while_stopped_names_the_copy_to_import(transactional_db, log, state):
    append(log, lines(0, 4))
    follower = Follower(log, state)
    wait_stored(4, follower)
    wait_saved(state, log)
    follower.stop()
    append(log, lines(4, 3))
    copy = log.with_name("access.log.1")
    copy.write_bytes(log.read_bytes())  # logrotate's copytruncate
    log.write_text("")
    append(log, lines(7, 3))
    follower = Follower(log, state)
    wait_stored(7, follower)
    follower.stop()
    assert (
        f"{log} is not the file of the saved position, and that file is gone (rotated and "
        "compressed or removed, or copied and truncated): the lines written to it after byte "
    ) in follower.stderr.read_text()
    assert "3 accepted, 4 duplicates" in imported(copy)
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(10))


def test_a_crash_before_the_position_is_saved_stores_nothing_twice(transactional_db, log, state):
    """Killed after a batch was committed but before its position was written: the batch is
    read again and its lines count as duplicates. Look-alike lines (byte-identical) on both
    sides of the restart stay distinct requests."""
    append(log, lines(0, 5) + lines(100, 3, same_second=True))
    follower = Follower(log, state)
    wait_stored(8, follower)
    follower.kill()
    saved = json.loads(state.read_text())
    state.write_text(json.dumps({**saved, "offset": 0}))  # the position of before the crash
    append(log, lines(5, 2) + lines(103, 2, same_second=True))
    follower = Follower(log, state)
    wait_stored(12, follower)
    out = follower.stop()
    assert "4 accepted, 8 duplicates" in out
    assert stored() == 12
    assert paths().count("/v1/ping") == 5


def test_look_alikes_after_a_restart_are_new_requests(transactional_db, log, state):
    append(log, lines(100, 3, same_second=True))
    follower = Follower(log, state)
    wait_stored(3, follower)
    wait_saved(state, log)
    follower.kill()
    append(log, lines(103, 2, same_second=True))
    follower = Follower(log, state)
    wait_stored(5, follower)
    out = follower.stop()
    assert "2 accepted, 0 duplicates" in out
    # The same file imported once more, whole: every line is already there.
    result = subprocess.run(
        [sys.executable, "manage.py", "importlog", str(log), "--project", "edge"],
        cwd=ROOT,
        env=follower_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "5 lines, 0 accepted, 5 duplicates" in result.stdout, result.stderr


def follower_env() -> dict:
    db = connection.settings_dict
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_"))}
    env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return env


def test_follow_refuses_stdin(db):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="needs a file"):
        call_command("importlog", "-", "--project", "edge", "--follow")


def test_follow_refuses_a_directory(db, tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="is a directory"):
        call_command(
            "importlog",
            str(tmp_path),
            "--project",
            "edge",
            "--follow",
            "--state",
            str(tmp_path / "state.json"),
        )


def test_a_log_not_created_yet_is_followed_once_it_is(transactional_db, log, state):
    follower = Follower(log, state)
    wait_for(lambda: "waiting for" in follower.stderr.read_text(), 30, "the follower to wait")
    append(log, lines(0, 3))
    wait_stored(3, follower)
    follower.stop()
    assert paths() == sorted(f"/v1/orders/{n}" for n in range(3))


def test_follow_refuses_a_poll_of_no_time(db, log):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="--poll must be more than 0"):
        call_command("importlog", str(log), "--project", "edge", "--follow", "--poll", "0")
