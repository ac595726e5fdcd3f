"""manage.py routes PROJECT [--import FILE] [--list] [--test PATH]: a project's route templates
from a shell, as the routes page and API show and change them."""

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from monitor.models import Project
from monitor.reads import routes as route_reads
from monitor.routing import changes, learning, merge
from monitor.routing.openapi import MAX_DOCUMENT_BYTES, DocumentError, read_document


class Command(BaseCommand):
    help = (
        "Show, test and import a project's route templates: --import an OpenAPI 3 or Swagger 2 "
        "document (JSON or YAML, '-' for stdin), --list the templates with their source, "
        "--test how a path is routed, --learn now instead of waiting for the periodic pass."
    )

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("--import", dest="document", metavar="FILE", help="OpenAPI document")
        parser.add_argument(
            "--base-path",
            default=None,
            help="prefix for the imported templates (default: the document's server path or "
            "basePath; '' for none)",
        )
        parser.add_argument("--list", action="store_true", help="list the templates")
        parser.add_argument(
            "--source",
            choices=["gateway", "declared", "openapi", "learned", "derived"],
            help="with --list: only this source",
        )
        parser.add_argument("--test", metavar="PATH", action="append", help="route a path")
        parser.add_argument(
            "--learn", action="store_true", help="learn parameters and merge endpoints now"
        )

    def handle(self, *args, **opts):
        project = Project.objects.filter(slug=opts["project"]).first()
        if project is None:
            raise CommandError(f"no project {opts['project']!r}")
        if not (opts["document"] or opts["list"] or opts["test"] or opts["learn"]):
            opts["list"] = True
        if opts["document"]:
            self._import(project, opts["document"], opts["base_path"])
        if opts["learn"]:
            rules = learning.learn(project)
            merged = merge.reroute(project)
            for rule in rules:
                ev = rule.evidence
                self.stdout.write(
                    f"learned {rule.template} ({ev['distinct_values']} distinct values, "
                    f"e.g. {', '.join(ev['examples'][:3])})"
                )
            self.stdout.write(
                f"{len(rules)} new rules; {merged.endpoints} endpoints merged, "
                f"{merged.rollup_rows} rollup rows and {merged.raw_rows} raw rows moved"
            )
        for path in opts["test"] or ():
            template, source = route_reads.route_of_path(project, path.split("?", 1)[0])
            self.stdout.write(f"{path} -> {template} ({source})")
        if opts["list"]:
            self._list(project, opts["source"])

    def _import(self, project: Project, name: str, base_path: str | None) -> None:
        try:
            if name == "-":
                data = sys.stdin.buffer.read(MAX_DOCUMENT_BYTES + 1)
            else:
                with Path(name).open("rb") as f:
                    data = f.read(MAX_DOCUMENT_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"{name}: {exc.strerror}") from None
        try:
            document = read_document(data, base_path)
        except DocumentError as exc:
            raise CommandError(f"{name}: {exc}") from None
        added = changes.import_document(project, document)
        merged = merge.reroute(project)
        for path, reason in document.skipped:
            self.stderr.write(f"skipped {path}: {reason}")
        self.stdout.write(
            f"imported {len(document.routes)} templates of {document.title or name!r} "
            f"({document.spec}, prefixed with {document.base_path}): {len(added)} new; "
            f"{merged.endpoints} endpoints merged into them"
        )

    def _list(self, project: Project, source: str | None) -> None:
        rows = route_reads.routes(project, source)
        limit = route_reads.endpoint_limit(project)
        width = max((len(r["template"]) for r in rows), default=8)
        for r in rows:
            state = " (removed)" if r["removed_at"] else ""
            methods = ",".join(r["methods"]) or "-"
            self.stdout.write(
                f"{r['template']:<{width}}  {r['source']:<8}  {r['endpoints']:>5} endpoints  "
                f"{methods}{state}"
            )
        self.stdout.write(
            f"{len(rows)} templates; {limit['endpoints']} endpoints of at most "
            f"{limit['max_endpoints']}"
        )
        if limit["overflowed"]:
            self.stdout.write(limit["how_to_fix"])
