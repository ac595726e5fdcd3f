"""manage.py deploy PROJECT VERSION [--ts …] [--environment …] [--description …] [--url …]:
record a deploy, as POST /api/v1/projects/{slug}/deploys/ does (for release scripts)."""

from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError

from monitor import deploys
from monitor.models import Project


def parse_ts(text: str) -> datetime:
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CommandError(
            f"--ts: expected an RFC 3339 time such as 2025-01-31T12:00:00Z, got {text[:40]!r}"
        ) from None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


class Command(BaseCommand):
    help = "Record a deploy of the project: charts mark it and alerts that follow name it."

    def add_arguments(self, parser):
        parser.add_argument("project", help="the project's slug")
        parser.add_argument("version", help="the release, e.g. v2.4.0 or a commit SHA")
        parser.add_argument("--ts", help="when it went live, RFC 3339 (default: now)")
        parser.add_argument("--environment", default="", help="e.g. production")
        parser.add_argument("--description", default="", help="what changed")
        parser.add_argument("--url", default="", help="a link to the release")

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project'][:64]!r}")
        try:
            deploy = deploys.record(
                project,
                opts["version"],
                ts=parse_ts(opts["ts"]) if opts["ts"] else None,
                environment=opts["environment"],
                description=opts["description"],
                url=opts["url"],
            )
        except deploys.DeployError as exc:
            raise CommandError(str(exc)) from None
        where = f" ({deploy.environment})" if deploy.environment else ""
        self.stdout.write(
            f"deploy {deploy.id}: {project.slug} {deploy.version}{where} at "
            f"{deploy.ts.isoformat().replace('+00:00', 'Z')}"
        )
