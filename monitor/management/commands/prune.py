"""manage.py prune [--dry-run]: apply retention now (monitor/pipeline/retention.py)."""

from django.core.management.base import BaseCommand

from monitor.pipeline import retention


class Command(BaseCommand):
    help = (
        "Delete raw requests and rollups past their retention (raw rows a whole UTC day at a "
        "time). With --dry-run, only count what would go."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="count what would be deleted; delete nothing"
        )

    def handle(self, *args, dry_run: bool = False, **options):
        report = retention.prune(dry_run=dry_run)
        prefix = "would delete " if dry_run else "deleted "
        lines = report.lines()
        self.stdout.write(lines[0])
        for line in lines[1:]:
            self.stdout.write(prefix + line)
