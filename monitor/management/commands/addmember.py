"""manage.py addmember PROJECT USER [--role viewer|admin]: give a person access to a project.

USER is a username or an e-mail address. A person with an account becomes a member (an
existing member gets the role); an e-mail address without an account gets an invitation mail,
and the command prints its link too (for when mail is not set up).
"""

from django.core.management.base import BaseCommand, CommandError

from monitor.models import Membership, Project
from monitor.team import invitations
from monitor.team.members import ROLES, MemberError, add_member, find_user


class Command(BaseCommand):
    help = "Give a user (username or e-mail) a role in a project; invite an unknown e-mail."

    def add_arguments(self, parser):
        parser.add_argument("project", help="project slug")
        parser.add_argument("user", help="username or e-mail address")
        parser.add_argument("--role", choices=ROLES, default=Membership.Role.VIEWER)

    def handle(self, *args, project, user, role, **options):
        target = Project.objects.filter(slug=project).first()
        if target is None:
            raise CommandError(f"no project {project!r}; create it with createsource")
        person = find_user(user)
        try:
            if person is not None:
                membership, created = add_member(target, person, role)
                verb = "is now" if created else "was a member already; now"
                self.stdout.write(
                    f"{person.get_username()} {verb} {membership.role} of {target.slug}"
                )
                return
            if "@" not in user:
                raise CommandError(
                    f"no user {user!r}; give an e-mail address to invite someone without an account"
                )
            invitation = invitations.create_invitation(target, user, role, None)
        except MemberError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"invited {invitation.email} to {target.slug} as {invitation.role}; the link works "
            f"once, for {invitations.lifetime().days} days:"
        )
        self.stdout.write(invitations.link_for(invitation))
        try:
            invitations.send(invitation)
        except OSError as exc:
            self.stderr.write(f"the mail could not be sent ({exc}): pass the link on yourself")
