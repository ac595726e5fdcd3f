"""Acceptance: on simulated traffic of every scenario, the stored cause and retry outcome agree
with the simulator's ground truth (causes ≥ 98% per cause, outcomes ≥ 95%), with batches
delivered in order and shuffled. The confusion tables are printed and put in the assertion
message, so that a failure shows them without -s."""

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from ingest.models import Request
from monitor.demo.simulation import SCENARIOS, Simulator
from monitor.pipeline.finalize import finalize_pending

SEEDS = (1, 2, 3)
BATCH = 400


def confusion(pairs: list[tuple[str, str]], title: str) -> str:
    """A confusion table: one row per true label, one column per stored label."""
    table = defaultdict(Counter)
    for truth, got in pairs:
        table[truth][got] += 1
    cols = sorted({g for _, g in pairs} | set(table))
    width = max(len(c) for c in cols) + 2
    lines = [title, "truth \\ stored".ljust(22) + "".join(c[:width].rjust(width) for c in cols)]
    for truth in sorted(table):
        row = table[truth]
        lines.append(truth.ljust(22) + "".join(str(row[c]).rjust(width) for c in cols))
    return "\n".join(lines)


def run_scenario(post_logs, scenario: str, seed: int, shuffled: bool):
    sim = Simulator(seed=seed, scenario=scenario)
    start = datetime.now(UTC) - timedelta(hours=2)
    records = sim.traffic(start, 150, 12)
    batches = [records[i : i + BATCH] for i in range(0, len(records), BATCH)]
    if shuffled:
        random.Random(seed).shuffle(batches)
    for batch in batches:
        response = post_logs(batch)
        assert response.status_code == 200, response.content
        assert response.json()["rejected"] == 0
    finalize_pending(now=datetime.now(UTC))
    return sim.truth


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_cause_and_outcome_agree_with_ground_truth(post_logs, shop, scenario):
    cause_pairs, outcome_pairs, winner_misses = [], [], []
    for seed in SEEDS:
        truth = run_scenario(post_logs, scenario, seed, shuffled=seed > 1)
        stored = {
            r["request_id"]: r
            for r in Request.objects.filter(
                project=shop, request_id__in=[t.request_id for t in truth]
            ).values("request_id", "cause", "retry_outcome", "race_winner__request_id")
        }
        for t in truth:
            row = stored[t.request_id]
            cause_pairs.append((t.cause, row["cause"] or "-"))
            outcome_pairs.append((t.outcome, row["retry_outcome"] or "-"))
            if t.winner and row["race_winner__request_id"] != t.winner:
                winner_misses.append(t.request_id)
        Request.objects.filter(project=shop).delete()
    report = "\n\n".join(
        [
            confusion(cause_pairs, f"{scenario}: causes over seeds {SEEDS}"),
            confusion(outcome_pairs, f"{scenario}: retry outcomes"),
        ]
    )
    print("\n" + report)
    per_cause = defaultdict(lambda: [0, 0])
    for truth, got in cause_pairs:
        per_cause[truth][0] += truth == got
        per_cause[truth][1] += 1
    for cause, (right, total) in per_cause.items():
        assert right / total >= 0.98, f"{cause}: {right}/{total}\n{report}"
    right = sum(t == g for t, g in outcome_pairs)
    assert right / len(outcome_pairs) >= 0.95, f"outcomes {right}/{len(outcome_pairs)}\n{report}"
    races = sum(1 for t, _ in cause_pairs if t == "concurrent_write")
    assert len(winner_misses) <= 0.02 * max(races, 1), f"race winners missed: {winner_misses}"
