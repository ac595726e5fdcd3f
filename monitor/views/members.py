"""The members page of a project: every member sees who belongs and with which role; admins
add people (by username, or by e-mail: an invitation for someone without an account), change
roles, remove members, and resend or cancel invitations. Posts redirect back with a message."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitor.access import admin_writes, projects_for_user
from monitor.models import Invitation, Membership
from monitor.team import invitations
from monitor.team.members import (
    ROLES,
    MemberError,
    add_member,
    change_role,
    find_user,
    members_of,
    remove_member,
)


def _context(request, **extra) -> dict:
    return {
        "project": request.project,
        "projects": projects_for_user(request.user).only("slug", "name"),
        "can_admin": request.can_admin,
        "roles": ROLES,
        **extra,
    }


def _back(request):
    return redirect("members", slug=request.project.slug)


def _membership(request, member_id: int) -> Membership:
    membership = (
        Membership.objects.filter(project=request.project, pk=member_id)
        .select_related("user", "project")
        .first()
    )
    if membership is None:
        raise Http404("no such member")
    return membership


def _invitation(request, invitation_id: int) -> Invitation:
    invitation = Invitation.objects.filter(
        project=request.project, pk=invitation_id, accepted_at__isnull=True
    ).first()
    if invitation is None:
        raise Http404("no such invitation")
    return invitation


@admin_writes
def members(request, slug):
    """GET: the members and open invitations. POST (admins): add a person by username or
    e-mail; an unknown e-mail gets an invitation."""
    if request.method == "POST":
        who = request.POST.get("user", "").strip()
        role = request.POST.get("role", Membership.Role.VIEWER)
        try:
            _add(request, who, role)
        except MemberError as exc:
            messages.error(request, str(exc))
        return _back(request)
    pending = request.project.invitations.filter(accepted_at__isnull=True).select_related(
        "invited_by"
    )
    now = timezone.now()
    shown = [(i, invitations.expires_at(i), invitations.expires_at(i) <= now) for i in pending]
    return render(
        request,
        "monitor/members.html",
        _context(
            request,
            members=members_of(request.project),
            invitations=shown,
            admin_count=members_of(request.project).filter(role=Membership.Role.ADMIN).count(),
        ),
    )


def _add(request, who: str, role: str) -> None:
    if not who:
        raise MemberError("user: give a username or an e-mail address")
    user = find_user(who)
    if user is not None:
        membership, created = add_member(request.project, user, role)
        name = user.get_username()
        if created:
            messages.success(request, f"{name} is now {membership.role} of this project.")
        else:
            messages.success(request, f"{name} was a member already; role: {membership.role}.")
        return
    if "@" not in who:
        raise MemberError(
            f"user: nobody is called {who[:100]!r}; to invite someone without an account, "
            "give their e-mail address"
        )
    try:
        invitation = invitations.invite(request.project, who, role, request.user)
    except OSError as exc:  # SMTP down or refused: the invitation stays, resend it later
        messages.error(request, f"The invitation was saved but the mail failed ({exc}); resend it.")
        return
    messages.success(
        request,
        f"Invitation mailed to {invitation.email} (as {invitation.role}); "
        f"the link works for {invitations.lifetime().days} days.",
    )


@admin_writes
@require_POST
def member(request, slug, member_id):
    """Change a member's role (POST role=viewer|admin)."""
    membership = _membership(request, member_id)
    try:
        change_role(membership, request.POST.get("role", ""))
        messages.success(request, f"{membership.user.get_username()} is now {membership.role}.")
    except MemberError as exc:
        messages.error(request, str(exc))
    return _back(request)


@admin_writes
@require_POST
def remove(request, slug, member_id):
    membership = _membership(request, member_id)
    name = membership.user.get_username()
    try:
        remove_member(membership)
        messages.success(request, f"{name} no longer belongs to this project.")
    except MemberError as exc:
        messages.error(request, str(exc))
    if membership.user_id == request.user.id and not membership.pk:
        return redirect("projects")
    return _back(request)


@admin_writes
@require_POST
def resend_invitation(request, slug, invitation_id):
    invitation = _invitation(request, invitation_id)
    try:
        invitations.resend(invitation)
        messages.success(request, f"A new link was mailed to {invitation.email}.")
    except OSError as exc:
        messages.error(request, f"The mail to {invitation.email} failed ({exc}).")
    return _back(request)


@admin_writes
@require_POST
def cancel_invitation(request, slug, invitation_id):
    invitation = _invitation(request, invitation_id)
    invitation.delete()
    messages.success(
        request, f"The invitation of {invitation.email} is cancelled; its link no longer works."
    )
    return _back(request)
