from django.core.management.base import BaseCommand, CommandError

from ingest.formats import FORMATS
from ingest.sources import SourceError, create_source, slug_for


class Command(BaseCommand):
    help = (
        "Create a project (if needed) and an ingest source in it; prints the source's token "
        "alone on the last line (it is shown only once)."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug, e.g. shop-api")
        parser.add_argument("source", help="source name, e.g. kong-prod")
        parser.add_argument(
            "--format",
            default="",
            choices=["", *sorted(FORMATS)],
            help="default log format of this source (else detected per record)",
        )
        parser.add_argument(
            "--rotate", action="store_true", help="give an existing source a new token"
        )

    def handle(self, *args, **opts):
        try:
            slug = slug_for(opts["project"])
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        try:
            source, token = create_source(
                slug, opts["source"], opts["format"], rotate=opts["rotate"]
            )
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"source {source.name!r} in project {slug!r}"
            f" (format: {source.format or 'auto-detect'}). Its token, shown once:"
        )
        self.stdout.write(token)
