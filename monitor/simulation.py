"""Realistic API traffic with every conflict cause, as native records with their ground truth.

Used by `manage.py simulate` (the demo, the tests and the benchmarks). A Simulator is seeded, so
the same seed gives the same traffic.
"""

import random
import uuid
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
PROBLEM = "application/problem+json"


@dataclass
class Truth:
    """What really happened to one conflict: its cause and what the client did next."""

    request_id: str
    cause: str
    outcome: str  # resolved | retried | blind | abandoned


@dataclass
class Simulator:
    seed: int = 1
    orders: int = 200
    rng: random.Random = field(init=False)
    versions: dict[int, int] = field(init=False)
    truth: list[Truth] = field(default_factory=list)
    next_order: int = 1000

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.versions = {i: 1 for i in range(1, self.orders + 1)}

    # -- building blocks -------------------------------------------------------------------
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
                duration if duration is not None else self.rng.lognormvariate(3, 0.6), 3
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
        return rec

    def _etag(self, order: int) -> str:
        return f'"v{self.versions[order]}"'

    def _order(self) -> int:
        return self.rng.randint(1, self.orders)

    def _client(self, exclude: str | None = None) -> str:
        return self.rng.choice([c for c in CLIENTS if c != exclude])

    def _conflict(self, rec: dict, cause: str, outcome: str) -> dict:
        self.truth.append(Truth(rec["request_id"], cause, outcome))
        return rec

    # -- traffic -----------------------------------------------------------------------------
    def normal(self, ts: datetime) -> list[dict]:
        """One ordinary request: mostly reads, some writes, the odd 404 and 500."""
        client = self._client()
        order = self._order()
        roll = self.rng.random()
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
        """A POST that already happened: the retry of a create without an idempotency key."""
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
        return [first, self._conflict(dup, "duplicate", "abandoned"), follow]

    def stale_version(self, ts: datetime) -> list[dict]:
        """A PUT with an old ETag: 412, then a refetch and a successful retry."""
        client = self._client()
        order = self._order()
        stale = f'"v{max(1, self.versions[order] - 1)}"'
        self.versions[order] += 1
        lost = self._record(
            ts,
            "PUT",
            f"/v1/orders/{order}",
            412,
            client,
            req_h={"If-Match": stale},
            resp_h={"ETag": self._etag(order)},
            body='{"title":"Precondition Failed"}',
        )
        refetch = self._record(
            ts + timedelta(milliseconds=200),
            "GET",
            f"/v1/orders/{order}",
            200,
            client,
            resp_h={"ETag": self._etag(order)},
        )
        fresh = self._etag(order)
        self.versions[order] += 1
        retry = self._record(
            ts + timedelta(milliseconds=450),
            "PUT",
            f"/v1/orders/{order}",
            200,
            client,
            req_h={"If-Match": fresh},
            resp_h={"ETag": self._etag(order)},
        )
        return [self._conflict(lost, "stale_version", "resolved"), refetch, retry]

    def race(self, ts: datetime) -> list[dict]:
        """Two clients PATCH the same order; the second loses with a 409 and retries."""
        winner, loser = self._client(), None
        loser = self._client(exclude=winner)
        order = self._order()
        won = self._record(
            ts, "PATCH", f"/v1/orders/{order}", 200, winner, resp_h={"ETag": self._etag(order)}
        )
        lost = self._record(
            ts + timedelta(milliseconds=self.rng.randint(50, 2500)),
            "PATCH",
            f"/v1/orders/{order}",
            409,
            loser,
            body=f'{{"detail":"order {order} was changed by another client"}}',
        )
        retry = self._record(ts + timedelta(seconds=3), "PATCH", f"/v1/orders/{order}", 200, loser)
        return [won, self._conflict(lost, "concurrent_write", "resolved"), retry]

    def lock(self, ts: datetime) -> list[dict]:
        client = self._client()
        order = self._order()
        locked = self._record(
            ts,
            "PUT",
            f"/v1/orders/{order}",
            409,
            client,
            resp_h={"Retry-After": "2"},
            body=f'{{"detail":"order {order} is locked by another operation"}}',
        )
        retry = self._record(ts + timedelta(seconds=2.2), "PUT", f"/v1/orders/{order}", 200, client)
        return [self._conflict(locked, "lock", "resolved"), retry]

    def missing_precondition(self, ts: datetime) -> list[dict]:
        client = self._client()
        order = self._order()
        rec = self._record(
            ts,
            "DELETE",
            f"/v1/orders/{order}",
            428,
            client,
            body='{"detail":"this request must be conditional: send If-Match"}',
        )
        return [self._conflict(rec, "missing_precondition", "abandoned")]

    def idempotency(self, ts: datetime) -> list[dict]:
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
        return [first, self._conflict(again, "idempotency", "abandoned")]

    CONFLICT_MIX = (
        ("duplicate_create", 3),
        ("stale_version", 4),
        ("race", 3),
        ("lock", 2),
        ("missing_precondition", 1),
        ("idempotency", 1),
    )

    def traffic(self, start: datetime, seconds: float, rate: float, conflict_share: float = 0.06):
        """Records for `seconds` of traffic from `start` at about `rate` requests per second,
        sorted by time."""
        records: list[dict] = []
        count = max(1, int(seconds * rate))
        names = [n for n, _ in self.CONFLICT_MIX]
        weights = [w for _, w in self.CONFLICT_MIX]
        for _ in range(count):
            ts = start + timedelta(seconds=self.rng.uniform(0, seconds))
            if self.rng.random() < conflict_share:
                records.extend(getattr(self, self.rng.choices(names, weights)[0])(ts))
            else:
                records.extend(self.normal(ts))
        records.sort(key=lambda r: r["ts"])
        return records
