"""Drive simulated API traffic through the real HTTP ingest endpoint."""

import gzip
import json
import signal
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError

from monitor.demo.simulation import SCENARIOS, Simulator


class Command(BaseCommand):
    help = "Send realistic traffic with every conflict cause to POST /ingest/v1/logs."

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            default="http://127.0.0.1:8000",
            help="ConflictWatch base URL (default %(default)s)",
        )
        parser.add_argument("--token", help="source token (else --project/--source make one)")
        parser.add_argument("--project", default="demo", help="project slug for a new source")
        parser.add_argument("--source", default="simulator", help="source name for a new source")
        parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
        parser.add_argument(
            "--interval",
            type=float,
            default=2.0,
            help="seconds between batches (default %(default)s)",
        )
        parser.add_argument(
            "--batches", type=int, default=0, help="stop after N batches (0: run on)"
        )
        parser.add_argument(
            "--backfill",
            type=int,
            default=0,
            metavar="MINUTES",
            help="first send this many minutes of past traffic",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--scenario",
            default="mix",
            choices=sorted(SCENARIOS),
            help="which conflicts the traffic carries (default %(default)s): "
            + "; ".join(f"{name}: {sc.help}" for name, sc in sorted(SCENARIOS.items())),
        )
        parser.add_argument(
            "--truth",
            help="write the conflicts' ground truth (JSON: request_id, cause, outcome, winner) "
            "to this file",
        )

    def handle(self, *args, **opts):
        token = opts["token"] or self._make_source(opts["project"], opts["source"])
        sim = Simulator(seed=opts["seed"], scenario=opts["scenario"])
        url = opts["url"].rstrip("/") + "/ingest/v1/logs?format=native"
        self._stop = False
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "_stop", True))
        totals = {"accepted": 0, "duplicates": 0, "rejected": 0}
        now = datetime.now(UTC)
        if opts["backfill"]:
            start = now - timedelta(minutes=opts["backfill"])
            for minute in range(opts["backfill"]):
                t0 = start + timedelta(minutes=minute)
                self._send(url, token, sim.traffic(t0, 60, opts["rate"]), totals)
            self.stdout.write(f"backfilled {opts['backfill']} minutes: {totals}")
        sent = 0
        try:
            while not self._stop and (not opts["batches"] or sent < opts["batches"]):
                t0 = datetime.now(UTC)
                self._send(url, token, sim.traffic(t0, opts["interval"], opts["rate"]), totals)
                sent += 1
                if sent % 10 == 0:
                    self.stdout.write(f"{sent} batches sent: {totals}")
                if not opts["batches"] or sent < opts["batches"]:
                    time.sleep(opts["interval"])
        except KeyboardInterrupt:
            pass
        if opts["truth"]:
            with open(opts["truth"], "w") as fh:
                json.dump([t.__dict__ for t in sim.truth], fh, indent=1)
        self.stdout.write(f"done: {sent} batches, {totals}")

    def _make_source(self, project: str, name: str) -> str:
        from ingest.sources import create_source

        _, token = create_source(project, name, "native", rotate=True)
        return token

    def _send(self, url: str, token: str, records: list[dict], totals: dict) -> None:
        body = gzip.compress("\n".join(json.dumps(r) for r in records).encode())
        req = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/x-ndjson",
                "Content-Encoding": "gzip",
            },
        )
        for attempt in range(5):
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    answer = json.loads(resp.read())
                break
            except urllib.error.HTTPError as exc:
                if exc.code in (429, 503) and attempt < 4:
                    time.sleep(float(exc.headers.get("Retry-After", "1")))
                    continue
                raise CommandError(f"ingest answered {exc.code}: {exc.read()[:300]!r}") from None
            except urllib.error.URLError as exc:
                if attempt < 4:
                    time.sleep(1 + attempt)
                    continue
                raise CommandError(f"cannot reach {url}: {exc.reason}") from None
        for key in totals:
            totals[key] += answer.get(key, 0)
