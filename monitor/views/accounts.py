"""Accounts: accepting an invitation (new account or existing one), sign-up when the operator
opened it (CONFLICTWATCH_OPEN_SIGNUP), and Django's password reset and change views with our
templates and links built from CONFLICTWATCH_BASE_URL."""

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from monitor.team import invitations
from monitor.team.members import MemberError

BACKEND = "django.contrib.auth.backends.ModelBackend"


@never_cache
@sensitive_post_parameters("password", "password2")
def accept_invitation(request, token):
    """GET: what the invitation offers. POST: join with the signed-in account, or create the
    account the invitation is for (username and password; the e-mail is the invitation's)."""
    try:
        invitation = invitations.open_invitation(token)
    except invitations.InvitationError as exc:
        return render(request, "team/invitation.html", {"problem": str(exc)}, status=400)
    error = None
    if request.method == "POST":
        try:
            if request.user.is_authenticated:
                invitations.accept(token, request.user)
            else:
                password = request.POST.get("password", "")
                if password != request.POST.get("password2", ""):
                    raise MemberError("password: the two passwords differ")
                user = invitations.sign_up(token, request.POST.get("username", ""), password)
                login(request, user, backend=BACKEND)
            return redirect("overview", slug=invitation.project.slug)
        except invitations.InvitationError as exc:
            return render(request, "team/invitation.html", {"problem": str(exc)}, status=400)
        except MemberError as exc:
            error = str(exc)
    return render(
        request,
        "team/invitation.html",
        {
            "invitation": invitation,
            "error": error,
            "username": request.POST.get("username", invitation.email.split("@")[0]),
            "expires_at": invitations.expires_at(invitation),
        },
        status=400 if error else 200,
    )


@never_cache
@sensitive_post_parameters("password", "password2")
def signup(request):
    """An account without an invitation, only when the operator opened sign-up."""
    if not settings.CONFLICTWATCH_OPEN_SIGNUP:
        return render(request, "team/signup.html", {"closed": True}, status=403)
    error = None
    if request.method == "POST":
        password = request.POST.get("password", "")
        try:
            if password != request.POST.get("password2", ""):
                raise MemberError("password: the two passwords differ")
            email = request.POST.get("email", "").strip()
            if "@" not in email:
                raise MemberError("email: an e-mail address is required (for password resets)")
            user = invitations.create_account(request.POST.get("username", ""), email, password)
        except MemberError as exc:
            error = str(exc)
        else:
            login(request, user, backend=BACKEND)
            return redirect("projects")
    return render(
        request,
        "team/signup.html",
        {
            "error": error,
            "username": request.POST.get("username", ""),
            "email": request.POST.get("email", ""),
        },
        status=400 if error else 200,
    )


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset by e-mail; the mailed link starts with CONFLICTWATCH_BASE_URL, not with
    whatever Host header the request came with."""

    def form_valid(self, form):
        self.extra_email_context = {"base_url": settings.CONFLICTWATCH_BASE_URL.rstrip("/")}
        return super().form_valid(form)
