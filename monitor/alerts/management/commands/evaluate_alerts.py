"""One evaluation pass of every enabled alert rule, as of now or of --at."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from monitor.alerts.evaluate import evaluate_rules


def parse_at(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--at: expected an RFC 3339 time such as 2025-01-31T12:00:00Z, got {text[:40]!r}"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


class Command(BaseCommand):
    help = "Evaluate every enabled alert rule once (beat does this every minute)."

    def add_arguments(self, parser):
        parser.add_argument("--at", help="evaluate as of this RFC 3339 instant (default: now)")

    def handle(self, *args, **opts):
        at = parse_at(opts["at"]) if opts["at"] else None
        outcomes = evaluate_rules(at)
        line = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no enabled rules"
        self.stdout.write(line)
