"""Prepare the demo: a demo user who belongs to the demo project, and its login printed."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from monitor.models import Membership, Project


class Command(BaseCommand):
    help = "Create (or reset) the demo user and project; prints the login."

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo")
        parser.add_argument("--username", default="demo")
        parser.add_argument("--password", help="default: a new random password")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, **opts):
        password = opts["password"] or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=opts["username"])
        user.set_password(password)
        user.save()
        project, _ = Project.objects.get_or_create(
            slug=opts["project"], defaults={"name": "Demo shop API"}
        )
        Membership.objects.get_or_create(
            project=project, user=user, defaults={"role": Membership.Role.ADMIN}
        )
        self.stdout.write(f"url: {opts['url']}")
        self.stdout.write(f"user: {user.username}")
        self.stdout.write(f"password: {password}")
