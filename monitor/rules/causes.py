"""Why a conflict happened: one cause per 409/412/423/428, with the reason that decided it.

The order of the checks is the contract in DESIGN.md ("first match wins"). A project may add
body phrases per cause (`Project.conflict_phrases`); they are checked where the built-in body
words of that cause are, so they never change the order.
"""

import re
from dataclasses import dataclass
from datetime import datetime

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
) -> Verdict:
    """The cause of one conflict response and a sentence naming the signal that decided it.

    `winner` is another client's successful write to the same resource within the race window
    before this request, when the caller found one. `phrases` are the project's own body
    phrases per cause (from `project_phrases`).
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
    if status == 412:
        sent = _precondition_sent(request_headers)
        suffix = f" ({sent} did not match)" if sent else ""
        return Verdict("stale_version", f"status 412: a precondition failed{suffix}")
    sent = _precondition_sent(request_headers)
    if sent:
        return Verdict("stale_version", f"409 on a request that sent {sent}")
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
    if method == "PUT" and request_headers.get("if-none-match", "").strip() == "*":
        return Verdict("duplicate", f"409 on PUT with If-None-Match: * (create-only){created}")
    word = _phrase(_DUPLICATE_WORDS, text, extra.get("duplicate", ()))
    if word:
        return Verdict("duplicate", f"409 and the response body mentions {word!r}{created}")
    if winner is not None and method in RACE_METHODS:
        who = winner.client or "another client"
        return Verdict(
            "concurrent_write",
            f"409 on {method} right after {who}'s successful {winner.method} of {resource}",
        )
    return Verdict("unknown", f"{status} with no signal that identifies the cause")


def links_winner(cause: str, method: str, status: int) -> bool:
    """Whether a conflict of this cause is linked to another client's winning write: a race
    (unknown until a winner is found) or a create-only PUT that another client's write beat.
    A duplicate POST is not: its resource is the collection, which does not say which of the
    creates in it was the original."""
    if cause == "duplicate":
        return method == "PUT"
    return cause in ("unknown", "concurrent_write") and status == 409 and method in RACE_METHODS


def _precondition_sent(request_headers: dict) -> str | None:
    if "if-match" in request_headers:
        return f"If-Match: {request_headers['if-match']}"
    if "if-unmodified-since" in request_headers:
        return f"If-Unmodified-Since: {request_headers['if-unmodified-since']}"
    return None
