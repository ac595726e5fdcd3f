"""Acceptance on real servers that implement optimistic concurrency (pouchdb-server: CouchDB's
`?rev=`; WsgiDAV: WebDAV's If-Match, If-None-Match and LOCK), behind real nginx, driven by
concurrent clients that record what really happened (tests/monitor/real_servers.py).

The nginx access log goes through the product's ingest path (POST /ingest/v1/logs
?format=nginx, in batches) and aggregation. Causes and retry outcomes must agree with the
clients' truth for ≥ 90% of the conflicts; the same log posted in shuffled batch order (into a
second project) must give the same causes, winners, outcomes and rollup counts.
"""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Sum

from ingest.models import Request
from ingest.sources import create_source
from monitor.models import ClientRollup, OutcomeRollup, Project, RacePairRollup, StatusRollup
from monitor.pipeline.finalize import finalize_pending
from monitor.rules.outcomes import RETRY_HORIZON
from tests.monitor.real_servers import (
    Driver,
    couch_traffic,
    dav_traffic,
    start_nginx,
    start_pouchdb,
    start_wsgidav,
)
from tests.monitor.test_conflicts_accuracy import confusion

pytestmark = pytest.mark.postgres

BATCH = 15  # log lines per posted batch: races and retries are split across batches


def _drive(tmp, start, traffic, episodes: int, seed: int):
    server, upstream = start(tmp)
    nginx, port, log = start_nginx(tmp, upstream)
    try:
        driver = Driver(f"http://127.0.0.1:{port}", random.Random(seed))
        traffic(driver, episodes)
    finally:
        nginx.stop()
        server.stop()
    return log.read_text().splitlines(), driver.truth


@pytest.fixture(scope="module")
def couch_run(tmp_path_factory):
    return _drive(tmp_path_factory.mktemp("couch"), start_pouchdb, couch_traffic, 60, 7)


@pytest.fixture(scope="module")
def dav_run(tmp_path_factory):
    return _drive(tmp_path_factory.mktemp("dav"), start_wsgidav, dav_traffic, 45, 11)


def _post(post_logs, lines: list[str], token: str, shuffled: bool) -> None:
    batches = [lines[i : i + BATCH] for i in range(0, len(lines), BATCH)]
    if shuffled:
        random.Random(3).shuffle(batches)
    for batch in batches:
        response = post_logs(
            "\n".join(batch), fmt="nginx", headers={"HTTP_AUTHORIZATION": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.content
        assert response.json()["rejected"] == 0, response.content


def _decisions(project: Project) -> dict[str, tuple]:
    return {
        r["request_id"]: (
            r["cause"],
            r["race_winner__request_id"],
            r["retry_outcome"],
            r["cause_reason"],
        )
        for r in Request.objects.filter(project=project, status__in=(409, 412, 423, 428)).values(
            "request_id", "cause", "race_winner__request_id", "retry_outcome", "cause_reason"
        )
    }


def _rollups(project: Project) -> dict[str, dict]:
    def summed(model, keys, values):
        rows = model.objects.filter(project=project).values(*keys)
        return {
            tuple(r[k] for k in keys): tuple(r[v] for v in values)
            for r in rows.annotate(**{v: Sum(v) for v in values})
            if any(r[v] for v in values)
        }

    return {
        "offenders": summed(ClientRollup, ["client"], ["conflicts", "suffered", "caused"]),
        "outcomes": summed(OutcomeRollup, ["client", "cause", "outcome"], ["n"]),
        "race_pairs": summed(RacePairRollup, ["resource", "winner", "loser"], ["n"]),
        "statuses": summed(StatusRollup, ["status", "cause"], ["n"]),
    }


def _check(post_logs, shop, token, run, name: str) -> None:
    lines, truth = run
    assert len(truth) >= 25, f"{name}: only {len(truth)} conflicts were provoked"
    other = Project.objects.create(slug=f"{name}-shuffled", name=name)
    _, other_token = create_source(other.slug, "nginx-shuffled")
    _post(post_logs, lines, token, shuffled=False)
    _post(post_logs, lines, other_token, shuffled=True)
    later = datetime.now(UTC) + RETRY_HORIZON + timedelta(minutes=1)
    finalize_pending(now=later)

    stored = _decisions(shop)
    missing = set(truth) - set(stored)
    assert not missing, f"{name}: conflicts not in the log: {sorted(missing)[:5]}"
    causes = [(t.cause, stored[rid][0]) for rid, t in truth.items()]
    outcomes = [(t.outcome, stored[rid][2]) for rid, t in truth.items()]
    winners = [(t.winner, stored[rid][1]) for rid, t in truth.items() if t.winner]
    report = "\n\n".join(
        [
            confusion(causes, f"{name}: causes (truth by row, stored by column)"),
            confusion(outcomes, f"{name}: retry outcomes"),
            f"winners right: {sum(a == b for a, b in winners)}/{len(winners)}",
            "disagreements: "
            + "; ".join(
                f"{rid[:8]} {t.client} truth {t.cause}/{t.outcome}, stored {stored[rid][0]}/"
                f"{stored[rid][2]} ({stored[rid][3]})"
                for rid, t in truth.items()
                if (t.cause, t.outcome) != (stored[rid][0], stored[rid][2])
            ),
            "reasons: "
            + "; ".join(
                f"{r} x{n}" for r, n in Counter(v[3] for v in stored.values()).most_common(12)
            ),
        ]
    )
    print("\n" + report)
    right = sum(a == b for a, b in causes)
    assert right / len(causes) >= 0.9, f"causes {right}/{len(causes)}\n{report}"
    right = sum(a == b for a, b in outcomes)
    assert right / len(outcomes) >= 0.9, f"outcomes {right}/{len(outcomes)}\n{report}"
    if winners:
        right = sum(a == b for a, b in winners)
        assert right / len(winners) >= 0.8, f"winners {right}/{len(winners)}\n{report}"

    # The same traffic in another batch order: the same answers, the same counts.
    shuffled = _decisions(other)
    assert shuffled == stored
    assert _rollups(other) == _rollups(shop)


def test_couchdb_conflicts_behind_nginx_agree_with_the_clients_truth(
    post_logs, shop, token, couch_run
):
    _check(post_logs, shop, token, couch_run, "couchdb")


def test_webdav_conflicts_behind_nginx_agree_with_the_clients_truth(
    post_logs, shop, token, dav_run
):
    _check(post_logs, shop, token, dav_run, "webdav")
