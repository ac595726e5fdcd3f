"""Why a conflict happened: one cause per 409/412/423/428, with the reason that decided it.

The order of the checks is the contract in DESIGN.md ("first match wins"). A project may add
body phrases per cause (`Project.conflict_phrases`); they are checked where the built-in body
words of that cause are, so they never change the order.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.rules.versions import DEFAULT_SIGNALS, Signal, VersionSignals

CONFLICT_STATUSES = frozenset({409, 412, 423, 428})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RACE_METHODS = frozenset({"PUT", "PATCH", "DELETE"})
CAUSES = (
    "missing_precondition",
    "lock",
    "stale_version",
    "idempotency",
    "duplicate",
    "concurrent_write",
    "unknown",
)
_LOCK_WORDS = re.compile(r"\b(lock|locked|locking)\b")
_VERSION_WORDS = re.compile(r"(version|etag|stale|modified)")
_DUPLICATE_WORDS = re.compile(r"(exists|duplicate|unique)")
# A race winner is a write that ended (committed) in the race window before the loser's
# answer; a write is looked for from this long before the window's start, so a slow write
# that started earlier still counts.
SLOWEST_WRITE = timedelta(seconds=30)
# How far back a client's own requests to a resource tell an update from a create (a PUT).
HISTORY = timedelta(minutes=10)
# Causes a race winner or the client's history may change.
_RACING = ("unknown", "concurrent_write", "duplicate")
# Causes whose check reads the response body, so that a project's own phrases can join in.
PHRASE_CAUSES = ("lock", "stale_version", "idempotency", "duplicate")


@dataclass(frozen=True)
class Verdict:
    cause: str
    reason: str


@dataclass(frozen=True)
class RaceWinner:
    id: int
    client: str | None
    method: str
    ts: datetime
    status: int = 200


def is_conflict(status: int) -> bool:
    return status in CONFLICT_STATUSES


def is_successful_write(method: str, status: int) -> bool:
    return method in WRITE_METHODS and 200 <= status < 300


def _phrase(pattern: re.Pattern[str] | None, body: str, extra: tuple[str, ...] = ()) -> str | None:
    match = pattern.search(body) if pattern is not None else None
    if match:
        return match.group(0)
    for phrase in extra:
        if phrase in body:
            return phrase
    return None


def validate_phrases(value: object) -> dict[str, tuple[str, ...]]:
    """A project's `conflict_phrases` as {cause: lower-cased phrases}; ValueError naming the
    problem when it is not {cause: [non-empty strings]} for a cause that reads the body."""
    if not isinstance(value, dict):
        raise ValueError("conflict_phrases: expected an object {cause: [phrases]}")
    result = {}
    for cause, phrases in value.items():
        if cause not in PHRASE_CAUSES:
            raise ValueError(
                f"conflict_phrases: {str(cause)[:40]!r} is not a cause that reads the body; "
                f"one of {', '.join(PHRASE_CAUSES)}"
            )
        if not isinstance(phrases, list) or not all(
            isinstance(p, str) and p.strip() for p in phrases
        ):
            raise ValueError(f"conflict_phrases: {cause}: expected a list of non-empty strings")
        result[cause] = tuple(p.strip().lower() for p in phrases)
    return result


def project_phrases(value: object) -> dict[str, tuple[str, ...]]:
    """The usable phrases of a stored `conflict_phrases` (a bad value counts as none)."""
    try:
        return validate_phrases(value or {})
    except ValueError:
        return {}


def classify(
    *,
    method: str,
    status: int,
    request_headers: dict,
    response_headers: dict,
    body: str | None,
    winner: RaceWinner | None = None,
    resource: str = "",
    phrases: dict[str, tuple[str, ...]] | None = None,
    query: str | None = None,
    signals: VersionSignals = DEFAULT_SIGNALS,
    history: bool | None = None,
) -> Verdict:
    """The cause of one conflict response and a sentence naming the signal that decided it.

    `winner` is another client's successful write to the same resource that committed (ended)
    within the race window before this request's answer, when the caller found one. `phrases`
    are the project's own body phrases per cause (from `project_phrases`). `signals` says where
    the project's requests carry the version a write expects (monitor/rules/versions.py).
    `history` is whether the same client read or wrote the resource within HISTORY before
    (None: not looked up); a PUT by a client that had not is most likely a create.
    """
    text = (body or "").lower()
    extra = phrases or {}
    if status == 428:
        return Verdict(
            "missing_precondition", "status 428: the server requires a conditional request"
        )
    if status == 423:
        return Verdict("lock", "status 423: the resource is locked")
    if status == 409:
        if "retry-after" in response_headers:
            return Verdict(
                "lock", f"409 with Retry-After: {response_headers['retry-after']} (a lock held)"
            )
        word = _phrase(_LOCK_WORDS, text, extra.get("lock", ()))
        if word:
            return Verdict("lock", f"409 and the response body says {word!r}")
    sent = signals.sent(request_headers, query)
    none_match = request_headers.get("if-none-match", "").strip()
    if status == 412:
        return _precondition_failed(method, sent, none_match)
    if sent:
        return Verdict("stale_version", f"409 on a {method} that sent {sent}")
    word = _phrase(_VERSION_WORDS, text, extra.get("stale_version", ()))
    if word:
        return Verdict("stale_version", f"409 and the response body mentions {word!r}")
    if "idempotency-key" in request_headers:
        return Verdict("idempotency", "409 on a request that sent an Idempotency-Key")
    word = _phrase(None, text, extra.get("idempotency", ()))
    if word:
        return Verdict("idempotency", f"409 and the response body mentions {word!r}")
    created = f" ({winner.client or 'another client'} created it first)" if winner else ""
    if method == "POST":
        return Verdict("duplicate", f"409 on POST: a create that already happened{created}")
    if method == "PUT" and none_match == "*":
        return Verdict("duplicate", f"409 on PUT with If-None-Match: * (create-only){created}")
    word = _phrase(_DUPLICATE_WORDS, text, extra.get("duplicate", ()))
    if word:
        return Verdict("duplicate", f"409 and the response body mentions {word!r}{created}")
    if method == "PUT" and winner is not None and winner.status == 201:
        return Verdict(
            "duplicate",
            f"409 on PUT right after {winner.client or 'another client'}'s {winner.method} "
            f"created {resource} (201 Created): both were creating it",
        )
    if method == "PUT" and history is False:
        who = f" ({winner.client or 'another client'} wrote it first)" if winner else ""
        return Verdict(
            "duplicate",
            f"409 on PUT by a client that had neither read nor written {resource} in the "
            f"{_minutes(HISTORY)} before: a create of something that already exists{who}",
        )
    if winner is not None and method in RACE_METHODS:
        who = winner.client or "another client"
        return Verdict(
            "concurrent_write",
            f"409 on {method} right after {who}'s successful {winner.method} of {resource}",
        )
    return Verdict("unknown", f"{status} with no signal that identifies the cause")


def _precondition_failed(method: str, sent: Signal | None, none_match: str) -> Verdict:
    """A 412: which precondition failed, as far as the log shows."""
    if sent:
        return Verdict("stale_version", f"412 on a {method} that sent {sent} (it did not match)")
    if none_match == "*":
        return Verdict(
            "duplicate", f"412 on a {method} with If-None-Match: * (create-only): it exists"
        )
    if none_match:
        return Verdict(
            "stale_version", f"412 on a {method} that sent If-None-Match: {none_match[:60]}"
        )
    if method in ("PUT", "POST"):
        return Verdict(
            "duplicate",
            f"412 on a {method} with no precondition in the log: servers answer so a create of "
            "something that already exists (if the log shows no request headers, as an nginx "
            "combined line, an If-Match may have been sent all the same)",
        )
    return Verdict("stale_version", f"status 412 on a {method}: a precondition failed")


def _minutes(span: timedelta) -> str:
    return f"{round(span.total_seconds() / 60)} minutes"


def needs_history(verdict: Verdict, method: str, status: int) -> bool:
    """Whether the client's history with the resource can change this conflict's cause: a 409
    on PUT that no signal explained (a create and an update look alike). `verdict` is the
    cause found without a winner or history."""
    return status == 409 and method == "PUT" and verdict.cause == "unknown"


def links_winner(cause: str, method: str, status: int) -> bool:
    """Whether a conflict of this cause is linked to another client's winning write: a race
    (unknown until a winner is found) or a create-only PUT that another client's write beat.
    A duplicate POST is not: its resource is the collection, which does not say which of the
    creates in it was the original."""
    if cause == "duplicate":
        return method == "PUT" and status == 409
    return cause in _RACING and status == 409 and method in RACE_METHODS
