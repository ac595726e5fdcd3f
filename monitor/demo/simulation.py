"""Realistic API traffic with every conflict cause, as native records with their ground truth.

Used by `manage.py simulate` (the demo, the tests and the benchmarks). A Simulator is seeded, so
the same seed gives the same traffic. A scenario (SCENARIOS) picks which conflict episodes the
traffic carries: one per cause, a mix, a retry storm, or a deploy that breaks If-Match handling.

Ground truth (`Simulator.truth`): the cause is what the episode acted out (a 409 on a create
that already happened is a duplicate, a PATCH that lost to another client's PATCH is a
concurrent write…). The retry outcome is what the simulated client then actually did, read off
the generated traffic as a whole: its next write to the same resource within ten minutes, which
may be the episode's own retry or an unrelated write of ordinary traffic (but for a create:
another create of the same client is not its retry). Episodes reserve their
resource while they run (ordinary writes go elsewhere), so that a race has the winner it acted
out and a business-rule 409 has no racing write.
"""

import math
import random
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

HOST = "api.shop.example"
CLIENTS = ["acme-mobile", "billing-svc", "web-frontend", "inventory-sync", "partner-gw"]
AGENTS = {
    "acme-mobile": "AcmeShop/4.2.1 (iOS 17.3)",
    "billing-svc": "billing-svc/2.8.0 python-httpx/0.27.0",
    "web-frontend": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    "inventory-sync": "inventory-sync/1.4 Go-http-client/1.1",
    "partner-gw": "partner-gateway/3.1 okhttp/4.12",
}
IPS = {c: f"203.0.113.{10 + i}" for i, c in enumerate(CLIENTS)}
JSON = "application/json"
# Each endpoint's latency: the median (ms) and spread of a log-normal, as a real API's differ (a
# payment waits on its provider, a list reads more than an item). Keyed by method and the path's
# first segment after /v1, with whether it names an item.
LATENCY = {
    ("GET", "orders", True): (14, 0.45),
    ("GET", "orders", False): (48, 0.5),
    ("GET", "customers", True): (9, 0.4),
    ("POST", "orders", False): (62, 0.5),
    ("POST", "payments", False): (180, 0.35),
    ("PUT", "orders", True): (33, 0.55),
    ("PATCH", "orders", True): (27, 0.5),
    ("DELETE", "orders", True): (21, 0.45),
    ("PUT", "customers", True): (40, 0.6),
    ("PATCH", "inventory", True): (17, 0.7),
}
DEFAULT_LATENCY = (20, 0.6)
PROBLEM = "application/problem+json"


@dataclass
class Truth:
    """What really happened to one conflict: its cause, what the client did next, and for a
    race the request id of the write that won it."""

    request_id: str
    cause: str
    outcome: str  # resolved | retried | blind | abandoned
    winner: str | None = None


@dataclass(frozen=True)
class Scenario:
    """Which conflict episodes (name, weight) the traffic carries, and how often."""

    mix: tuple[tuple[str, int], ...]
    share: float = 0.06
    deploy_after: float | None = None  # seconds from the first request to the broken deploy
    help: str = ""


CONFLICT_MIX = (
    ("duplicate_create", 3),
    ("stale_version", 4),
    ("race", 3),
    ("lock", 2),
    ("missing_precondition", 1),
    ("idempotency", 1),
    ("duplicate_put", 1),
    ("business_rule", 1),
)
SCENARIOS = {
    "duplicate": Scenario(
        (("duplicate_create", 2), ("duplicate_put", 1)), 0.15, help="creates that already happened"
    ),
    "stale_version": Scenario((("stale_version", 1),), 0.15, help="writes with an old ETag"),
    "concurrent_write": Scenario((("race", 1),), 0.15, help="two clients write one order"),
    "lock": Scenario((("lock", 1),), 0.15, help="409 + Retry-After while an order is locked"),
    "missing_precondition": Scenario(
        (("missing_precondition", 1),), 0.15, help="428 on writes without If-Match"
    ),
    "idempotency": Scenario((("idempotency", 1),), 0.15, help="a key reused while in flight"),
    "unknown": Scenario((("business_rule", 1),), 0.15, help="409s with no identifying signal"),
    "mix": Scenario(CONFLICT_MIX, 0.06, help="every cause, as a busy API sees them"),
    "retry_storm": Scenario(
        (("stale_storm", 2), ("lock_storm", 2), *CONFLICT_MIX), 0.08, help="clients that hammer"
    ),
    "deploy": Scenario(
        CONFLICT_MIX,
        0.04,
        deploy_after=60.0,
        help="after a minute, a deploy answers 412 to every If-Match",
    ),
}
RETRY_HORIZON = timedelta(minutes=10)
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CONFLICT_STATUSES = frozenset({409, 412, 423, 428})
RACE_WINDOW = timedelta(seconds=5)


@dataclass
class Simulator:
    seed: int = 1
    orders: int = 200
    scenario: str = "mix"
    track_truth: bool = True
    rng: random.Random = field(init=False)
    versions: dict[int, int] = field(init=False)
    next_order: int = 1000

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; one of {', '.join(SCENARIOS)}")
        self.rng = random.Random(self.seed)
        self.versions = {i: 1 for i in range(1, self.orders + 1)}
        self._plan = SCENARIOS[self.scenario]
        self.deploy_at: datetime | None = None
        self._busy: dict[str, datetime] = {}  # resource -> reserved by an episode until
        self._wins: dict[str, deque] = {}  # resource -> recent successful writes (ts, client)
        # Ground truth: the conflicts acted out, and every write (for what came next).
        self._conflicts: dict[str, tuple[str, str | None]] = {}
        self._writes: list[tuple] = []

    # -- building blocks -------------------------------------------------------------------
    def _latency(self, method: str, path: str) -> float:
        parts = path.strip("/").split("/")  # ["v1", "orders", "42"]
        key = (method, parts[1] if len(parts) > 1 else "", len(parts) > 2)
        median, spread = LATENCY.get(key, DEFAULT_LATENCY)
        return self.rng.lognormvariate(math.log(median), spread)

    def _done_within(self, gap_ms: int, method: str, path: str) -> float:
        """A race winner's latency: it committed before the loser, `gap_ms` after it, began."""
        return min(self._latency(method, path), 0.8 * gap_ms)

    def _rid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _record(
        self,
        ts,
        method,
        path,
        status,
        client,
        *,
        route=None,
        req_h=None,
        resp_h=None,
        body=None,
        query=None,
        duration=None,
    ) -> dict:
        rec = {
            "ts": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": method,
            "path": path,
            "status": status,
            "host": HOST,
            "service": "orders-api",
            "duration_ms": round(
                duration if duration is not None else self._latency(method, path), 3
            ),
            "request_bytes": self.rng.randint(200, 900),
            "response_bytes": self.rng.randint(150, 2000),
            "upstream_status": status,
            "client": client,
            "client_ip": IPS[client],
            "user_agent": AGENTS[client],
            "request_id": self._rid(),
            "request_headers": {"Authorization": "Bearer sim-" + client, **(req_h or {})},
            "response_headers": {
                "Content-Type": PROBLEM if status >= 400 else JSON,
                **(resp_h or {}),
            },
        }
        if route:
            rec["route"] = route
        if query:
            rec["query"] = query
        if body:
            rec["response_body"] = body
        if method in WRITE_METHODS:
            if 200 <= status < 300:
                wins = self._wins.setdefault(path, deque(maxlen=8))
                wins.append((ts, client))
            if self.track_truth:
                headers = rec["request_headers"]
                self._writes.append(
                    (
                        client,
                        path,
                        rec["ts"],
                        status,
                        rec["request_id"],
                        method,
                        headers.get("If-Match"),
                        headers.get("Idempotency-Key"),
                    )
                )
        return rec

    def _etag(self, order: int) -> str:
        return f'"v{self.versions[order]}"'

    def _order(self) -> int:
        return self.rng.randint(1, self.orders)

    def _free_order(self, ts: datetime, quiet_before: bool = False) -> int:
        """An order no episode holds at `ts`; with `quiet_before`, also one that no client
        wrote within the race window before `ts`."""
        order = self._order()
        for _ in range(30):
            path = f"/v1/orders/{order}"
            free = self._busy.get(path, ts) <= ts
            if free and quiet_before:
                free = all(t < ts - RACE_WINDOW or t > ts for t, _ in self._wins.get(path, ()))
            if free:
                return order
            order = self._order()
        return order

    def _reserve(self, path: str, until: datetime) -> None:
        self._busy[path] = max(self._busy.get(path, until), until)

    def _client(self, exclude: str | None = None) -> str:
        return self.rng.choice([c for c in CLIENTS if c != exclude])

    def _conflict(self, rec: dict, cause: str, winner: dict | None = None) -> dict:
        if self.track_truth:
            self._conflicts[rec["request_id"]] = (cause, winner["request_id"] if winner else None)
        return rec

    # -- ground truth ------------------------------------------------------------------------
    @property
    def truth(self) -> list[Truth]:
        """Every conflict so far with its cause and what its client did next (see the module
        docstring); a conflict with no write after it within ten minutes is abandoned."""
        following: dict[tuple[str, str], list[tuple]] = {}
        for w in sorted(self._writes, key=lambda w: w[2]):
            following.setdefault((w[0], w[1]), []).append(w)
        result = []
        for writes in following.values():
            for i, w in enumerate(writes):
                if w[4] not in self._conflicts:
                    continue
                cause, winner = self._conflicts[w[4]]
                later = writes[i + 1 :]
                if w[5] == "POST":
                    # No episode resends a create but with its Idempotency-Key: another POST
                    # of the same client is another create, not this one's retry.
                    later = [n for n in later if n[5] == "POST" and w[7] and n[7] == w[7]]
                result.append(Truth(w[4], cause, _outcome(w, later[:1]), winner))
        result.sort(key=lambda t: t.request_id)
        return result

    # -- traffic -----------------------------------------------------------------------------
    def normal(self, ts: datetime) -> list[dict]:
        """One ordinary request: mostly reads, some writes, the odd 404 and 500."""
        client = self._client()
        order = self._order()
        roll = self.rng.random()
        if 0.68 <= roll < 0.8:
            # An order update: elsewhere than an order an episode holds, or a read instead.
            order = self._free_order(ts)
            if self._busy.get(f"/v1/orders/{order}", ts) > ts:
                roll = 0.0
            elif self.deploy_at is not None and ts >= self.deploy_at:
                return self.broken_if_match(ts, client, order)
        if roll < 0.45:
            return [
                self._record(
                    ts,
                    "GET",
                    f"/v1/orders/{order}",
                    200,
                    client,
                    resp_h={"ETag": self._etag(order)},
                )
            ]
        if roll < 0.6:
            page = self.rng.randint(1, 5)
            status = 500 if self.rng.random() < 0.02 else 200
            return [
                self._record(
                    ts, "GET", "/v1/orders", status, client, query=f"status=open&page={page}"
                )
            ]
        if roll < 0.68:
            return [
                self._record(
                    ts,
                    "GET",
                    f"/v1/customers/{self.rng.randint(1, 500)}",
                    404 if self.rng.random() < 0.1 else 200,
                    client,
                )
            ]
        if roll < 0.8:
            etag = self._etag(order)
            self.versions[order] += 1
            return [
                self._record(
                    ts,
                    "PUT",
                    f"/v1/orders/{order}",
                    200,
                    client,
                    req_h={"If-Match": etag},
                    resp_h={"ETag": self._etag(order)},
                )
            ]
        if roll < 0.9:
            self.next_order += 1
            return [
                self._record(
                    ts,
                    "POST",
                    "/v1/orders",
                    201,
                    client,
                    req_h={"Idempotency-Key": self._rid()},
                    resp_h={"Location": f"/v1/orders/{self.next_order}"},
                )
            ]
        if roll < 0.97:
            sku = f"SKU-{self.rng.randint(100, 999)}"
            return [
                self._record(
                    ts,
                    "PATCH",
                    f"/v1/inventory/{sku}",
                    200,
                    "inventory-sync",
                    route="/v1/inventory/{sku}",
                )
            ]
        return [
            self._record(
                ts, "POST", "/v1/payments", 201 if self.rng.random() < 0.95 else 502, "billing-svc"
            )
        ]

    def duplicate_create(self, ts: datetime) -> list[dict]:
        """A POST that already happened: the retry of a create without an idempotency key,
        then a lookup of what exists."""
        client = self._client()
        ref = f"PO-{self.rng.randint(10000, 99999)}"
        first = self._record(ts, "POST", "/v1/orders", 201, client)
        dup = self._record(
            ts + timedelta(milliseconds=self.rng.randint(300, 3000)),
            "POST",
            "/v1/orders",
            409,
            client,
            body=f'{{"detail":"order with external_ref {ref} already exists"}}',
        )
        follow = self._record(
            ts + timedelta(seconds=4), "GET", "/v1/orders", 200, client, query=f"external_ref={ref}"
        )
        return [first, self._conflict(dup, "duplicate"), follow]

    def duplicate_put(self, ts: datetime) -> list[dict]:
        """Two clients create the same customer with a create-only PUT: the second gets a 409
        that the first one caused."""
        creator = self._client()
        second = self._client(exclude=creator)
        path = f"/v1/customers/{self.rng.randint(10**6, 10**7)}"
        gap = self.rng.randint(20, 1500)
        won = self._record(
            ts,
            "PUT",
            path,
            201,
            creator,
            route="/v1/customers/{id}",
            req_h={"If-None-Match": "*"},
            duration=self._done_within(gap, "PUT", path),
        )
        lost = self._record(
            ts + timedelta(milliseconds=gap),
            "PUT",
            path,
            409,
            second,
            route="/v1/customers/{id}",
            req_h={"If-None-Match": "*"},
            body='{"detail":"customer already exists"}',
        )
        refetch = self._record(ts + timedelta(seconds=2), "GET", path, 200, second)
        return [won, self._conflict(lost, "duplicate", won), refetch]

    def stale_version(self, ts: datetime) -> list[dict]:
        """A PUT with an old ETag: 412, then a refetch and a successful retry."""
        client = self._client()
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        self._reserve(path, ts + timedelta(seconds=1))
        stale = f'"v{max(1, self.versions[order] - 1)}"'
        self.versions[order] += 1
        lost = self._record(
            ts,
            "PUT",
            path,
            412,
            client,
            req_h={"If-Match": stale},
            resp_h={"ETag": self._etag(order)},
            body='{"title":"Precondition Failed"}',
        )
        refetch = self._record(
            ts + timedelta(milliseconds=200),
            "GET",
            path,
            200,
            client,
            resp_h={"ETag": self._etag(order)},
        )
        fresh = self._etag(order)
        self.versions[order] += 1
        retry = self._record(
            ts + timedelta(milliseconds=450),
            "PUT",
            path,
            200,
            client,
            req_h={"If-Match": fresh},
            resp_h={"ETag": self._etag(order)},
        )
        return [self._conflict(lost, "stale_version"), refetch, retry]

    def race(self, ts: datetime) -> list[dict]:
        """Two clients PATCH the same order; the second loses with a 409 and retries."""
        winner = self._client()
        loser = self._client(exclude=winner)
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        self._reserve(path, ts + timedelta(seconds=3.5))
        gap = self.rng.randint(50, 2500)
        won = self._record(
            ts,
            "PATCH",
            path,
            200,
            winner,
            resp_h={"ETag": self._etag(order)},
            duration=self._done_within(gap, "PATCH", path),
        )
        lost = self._record(
            ts + timedelta(milliseconds=gap),
            "PATCH",
            path,
            409,
            loser,
            body=f'{{"detail":"order {order} was changed by another client"}}',
        )
        retry = self._record(ts + timedelta(seconds=3), "PATCH", path, 200, loser)
        return [won, self._conflict(lost, "concurrent_write", won), retry]

    def lock(self, ts: datetime) -> list[dict]:
        """A 409 with Retry-After while the order is locked; the client waits and succeeds."""
        client = self._client()
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        self._reserve(path, ts + timedelta(seconds=2.5))
        locked = self._record(
            ts,
            "PUT",
            path,
            409,
            client,
            resp_h={"Retry-After": "2"},
            body=f'{{"detail":"order {order} is locked by another operation"}}',
        )
        retry = self._record(ts + timedelta(seconds=2.2), "PUT", path, 200, client)
        return [self._conflict(locked, "lock"), retry]

    def missing_precondition(self, ts: datetime) -> list[dict]:
        """A DELETE without If-Match gets 428; half the clients refetch and send it."""
        client = self._client()
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        self._reserve(path, ts + timedelta(seconds=1))
        rec = self._record(
            ts,
            "DELETE",
            path,
            428,
            client,
            body='{"detail":"this request must be conditional: send If-Match"}',
        )
        records = [self._conflict(rec, "missing_precondition")]
        if self.rng.random() < 0.5:
            etag = self._etag(order)
            records.append(
                self._record(
                    ts + timedelta(milliseconds=300),
                    "GET",
                    path,
                    200,
                    client,
                    resp_h={"ETag": etag},
                )
            )
            records.append(
                self._record(
                    ts + timedelta(milliseconds=600),
                    "DELETE",
                    path,
                    204,
                    client,
                    req_h={"If-Match": etag},
                )
            )
        return records

    def idempotency(self, ts: datetime) -> list[dict]:
        """A payment resent with its key while the first is still processing."""
        client = self._client()
        key = self._rid()
        first = self._record(
            ts, "POST", "/v1/payments", 201, client, req_h={"Idempotency-Key": key}
        )
        again = self._record(
            ts + timedelta(milliseconds=800),
            "POST",
            "/v1/payments",
            409,
            client,
            req_h={"Idempotency-Key": key},
            body='{"detail":"a request with this key is being processed"}',
        )
        return [first, self._conflict(again, "idempotency")]

    def business_rule(self, ts: datetime) -> list[dict]:
        """A 409 that says nothing ConflictWatch knows: deleting an order with open invoices."""
        client = self._client()
        order = self._free_order(ts, quiet_before=True)
        path = f"/v1/orders/{order}"
        self._reserve(path, ts + timedelta(milliseconds=10))
        rec = self._record(
            ts,
            "DELETE",
            path,
            409,
            client,
            body=f'{{"detail":"order {order} has open invoices"}}',
        )
        return [self._conflict(rec, "unknown")]

    def stale_storm(self, ts: datetime) -> list[dict]:
        """A client resends the same old If-Match again and again before it refetches (or
        gives up)."""
        client = self._client()
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        stale = f'"v{max(1, self.versions[order] - 1)}"'
        self.versions[order] += 1
        records, t = [], ts
        for _ in range(self.rng.randint(3, 7)):
            rec = self._record(
                t, "PUT", path, 412, client, req_h={"If-Match": stale}, body='{"title":"stale"}'
            )
            records.append(self._conflict(rec, "stale_version"))
            t += timedelta(milliseconds=self.rng.randint(80, 300))
        if self.rng.random() < 0.6:
            fresh = self._etag(order)
            records.append(self._record(t, "GET", path, 200, client, resp_h={"ETag": fresh}))
            self.versions[order] += 1
            t += timedelta(milliseconds=150)
            records.append(self._record(t, "PUT", path, 200, client, req_h={"If-Match": fresh}))
        self._reserve(path, t + timedelta(milliseconds=10))
        return records

    def lock_storm(self, ts: datetime) -> list[dict]:
        """A client ignores Retry-After and hammers a locked order until the lock is gone."""
        client = self._client()
        order = self._free_order(ts)
        path = f"/v1/orders/{order}"
        held = timedelta(seconds=self.rng.uniform(1.5, 4.0))
        records, t = [], ts
        while t - ts < held:
            rec = self._record(
                t,
                "PATCH",
                path,
                423,
                client,
                resp_h={"Retry-After": "3"},
                body='{"detail":"locked"}',
            )
            records.append(self._conflict(rec, "lock"))
            t += timedelta(milliseconds=self.rng.randint(100, 400))
        records.append(self._record(t, "PATCH", path, 200, client))
        self._reserve(path, t + timedelta(milliseconds=10))
        return records

    def broken_if_match(self, ts: datetime, client: str, order: int) -> list[dict]:
        """After the broken deploy: a correct If-Match gets 412; the client refetches, resends
        the same ETag, gets 412 again and gives up."""
        path = f"/v1/orders/{order}"
        etag = self._etag(order)
        records = []
        t = ts
        for attempt in range(2):
            rec = self._record(
                t,
                "PUT",
                path,
                412,
                client,
                req_h={"If-Match": etag},
                resp_h={"ETag": etag},
                body='{"title":"Precondition Failed"}',
            )
            records.append(self._conflict(rec, "stale_version"))
            if attempt == 0:
                t += timedelta(milliseconds=150)
                records.append(self._record(t, "GET", path, 200, client, resp_h={"ETag": etag}))
                t += timedelta(milliseconds=150)
        self._reserve(path, t + timedelta(milliseconds=10))
        return records

    CONFLICT_MIX = CONFLICT_MIX

    def traffic(
        self,
        start: datetime,
        seconds: float,
        rate: float,
        conflict_share: float | None = None,
    ) -> list[dict]:
        """Records for `seconds` of traffic from `start` at about `rate` requests per second,
        sorted by time. `conflict_share` (default: the scenario's) is the share of requests
        that start a conflict episode of the scenario."""
        plan = self._plan
        share = plan.share if conflict_share is None else conflict_share
        if plan.deploy_after is not None and self.deploy_at is None:
            self.deploy_at = start + timedelta(seconds=plan.deploy_after)
        count = max(1, int(seconds * rate))
        names = [n for n, _ in plan.mix]
        weights = [w for _, w in plan.mix]
        # In time order, so that an episode's reservation holds off later ordinary writes.
        times = sorted(
            (start + timedelta(seconds=self.rng.uniform(0, seconds))).replace(microsecond=0)
            + timedelta(milliseconds=self.rng.randrange(1000))
            for _ in range(count)
        )
        records: list[dict] = []
        for ts in times:
            if self.rng.random() < share:
                records.extend(getattr(self, self.rng.choices(names, weights)[0])(ts))
            else:
                records.extend(self.normal(ts))
        records.sort(key=lambda r: r["ts"])
        return records


def _outcome(conflict: tuple, after: list[tuple]) -> str:
    """What the client did next (RETRY_HORIZON, DESIGN.md): writes are (client, path, ts,
    status, request id, method, If-Match, Idempotency-Key)."""
    if not after:
        return "abandoned"
    nxt = after[0]
    gap = _parse(nxt[2]) - _parse(conflict[2])
    if gap > RETRY_HORIZON:
        return "abandoned"
    if 200 <= nxt[3] < 300:
        return "resolved"
    if conflict[6] is not None and nxt[6] == conflict[6]:
        return "blind"
    if conflict[5] == "POST" and conflict[7] is not None and nxt[7] == conflict[7]:
        return "blind"
    return "retried"


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))
