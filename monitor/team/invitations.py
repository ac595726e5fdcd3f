"""Invitations by e-mail: a signed link that expires and works once.

The link carries the invitation's id and the time it was sent, signed with SECRET_KEY
(django.core.signing, timestamped): a link that was altered, is older than
CONFLICTWATCH_INVITATION_DAYS, belongs to a cancelled invitation, was replaced by a newer
mail, or was used already is refused with the reason. Accepting is one transaction that
locks the invitation row, so two tabs cannot both use it.
"""

import logging
from datetime import timedelta
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from monitor.alerts.formatting import header_text
from monitor.models import Invitation, Membership, Project
from monitor.team.members import MemberError, add_member, check_role

SALT = "conflictwatch.invitation"
log = logging.getLogger(__name__)


class InvitationError(ValueError):
    """An invitation link that cannot be used, with the reason a person can act on."""


def lifetime() -> timedelta:
    return timedelta(days=settings.CONFLICTWATCH_INVITATION_DAYS)


def invite(project: Project, email: str, role: str, invited_by) -> Invitation:
    """Record an invitation of `email` to the project with `role` and mail its link (OSError
    when the mail fails: the invitation stays, to be resent)."""
    invitation = create_invitation(project, email, role, invited_by)
    send(invitation)
    return invitation


def create_invitation(project: Project, email: str, role: str, invited_by) -> Invitation:
    """Record an invitation (not mailed yet). An open invitation of the same address is
    renewed (new role, new link) instead of doubled."""
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError:
        raise MemberError(f"email: {email[:100]!r} is not an e-mail address") from None
    check_role(role)
    with transaction.atomic():
        invitation = (
            Invitation.objects.select_for_update()
            .filter(project=project, email__iexact=email, accepted_at__isnull=True)
            .first()
        )
        if invitation is None:
            invitation = Invitation(project=project, email=email)
        invitation.role = role
        invitation.invited_by = invited_by
        invitation.sent_at = timezone.now()
        invitation.save()
    return invitation


def resend(invitation: Invitation) -> Invitation:
    """Mail a fresh link; the earlier one stops working."""
    if invitation.accepted_at is not None:
        raise MemberError("invitation: accepted already")
    invitation.sent_at = timezone.now()
    invitation.save(update_fields=["sent_at"])
    send(invitation)
    return invitation


def token_for(invitation: Invitation) -> str:
    return signing.dumps(
        {"i": invitation.pk, "s": invitation.sent_at.timestamp()}, salt=SALT, compress=True
    )


def link_for(invitation: Invitation) -> str:
    path = reverse("accept-invitation", args=[token_for(invitation)])
    return urljoin(settings.CONFLICTWATCH_BASE_URL.rstrip("/") + "/", path.lstrip("/"))


def expires_at(invitation: Invitation):
    return (invitation.sent_at or invitation.created_at) + lifetime()


def send(invitation: Invitation) -> None:
    """Mail the invitation's link (text and HTML, every value escaped in HTML; the subject
    cannot carry a line break whatever the project is called)."""
    context = {
        "invitation": invitation,
        "project": invitation.project,
        "inviter": invitation.invited_by,
        "link": link_for(invitation),
        "days": settings.CONFLICTWATCH_INVITATION_DAYS,
    }
    subject = header_text(render_to_string("team/invitation_subject.txt", context))
    message = EmailMultiAlternatives(
        subject,
        render_to_string("team/invitation_body.txt", context),
        to=[invitation.email],
        connection=get_connection(timeout=settings.ALERTS_SMTP_TIMEOUT),
    )
    message.attach_alternative(render_to_string("team/invitation_body.html", context), "text/html")
    message.send()


def open_invitation(token: str) -> Invitation:
    """The invitation a link names, if it can still be used; InvitationError says why not."""
    try:
        data = signing.loads(token, salt=SALT, max_age=lifetime())
    except signing.SignatureExpired:
        raise InvitationError(
            "This invitation link has expired. Ask the person who invited you for a new one."
        ) from None
    except signing.BadSignature:
        raise InvitationError(
            "This invitation link is not valid. Check that it is complete."
        ) from None
    invitation = (
        Invitation.objects.select_related("project", "invited_by").filter(pk=data.get("i")).first()
        if isinstance(data, dict)
        else None
    )
    if invitation is None:
        raise InvitationError("This invitation was cancelled. Ask a project admin for a new one.")
    if invitation.accepted_at is not None:
        raise InvitationError(
            "This invitation was used already. Sign in with the account it created."
        )
    if invitation.sent_at is None or abs(invitation.sent_at.timestamp() - data.get("s", 0)) > 1e-3:
        raise InvitationError(
            "A newer invitation was sent to this address: use the link of the latest mail."
        )
    return invitation


@transaction.atomic
def accept(token: str, user) -> Membership:
    """Use the link for an existing account: it becomes a member with the invitation's role
    (a member already keeps a higher role). Raises InvitationError once used."""
    invitation = _locked(token)
    existing = Membership.objects.filter(project=invitation.project, user=user).first()
    if existing is not None and existing.role == Membership.Role.ADMIN:
        membership = existing
    else:
        membership, _ = add_member(invitation.project, user, invitation.role)
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


@transaction.atomic
def sign_up(token: str, username: str, password: str):
    """Create the account an invitation is for (its e-mail) and make it a member. Raises
    MemberError naming the field for a taken username or a weak password."""
    invitation = _locked(token)
    user = create_account(username, invitation.email, password)
    accept(token, user)
    return user


def create_account(username: str, email: str, password: str):
    """A new active account; MemberError names the field that is wrong."""
    User = get_user_model()
    username = (username or "").strip()
    field = User._meta.get_field("username")
    try:
        field.run_validators(username)
        if not username or len(username) > field.max_length:
            raise ValidationError(f"1 to {field.max_length} characters")
    except ValidationError as exc:
        raise MemberError(f"username: {' '.join(exc.messages)}") from None
    if User.objects.filter(username__iexact=username).exists():
        raise MemberError(f"username: {username!r} is taken; choose another")
    user = User(username=username, email=email)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise MemberError(f"password: {' '.join(exc.messages)}") from None
    user.set_password(password)
    user.save()
    return user


def _locked(token: str) -> Invitation:
    invitation = open_invitation(token)
    # Lock, then check again: of two requests with the same link, the second finds it used.
    invitation = (
        Invitation.objects.select_for_update().select_related("project").get(pk=invitation.pk)
    )
    if invitation.accepted_at is not None:
        raise InvitationError("This invitation was used already.")
    return invitation
