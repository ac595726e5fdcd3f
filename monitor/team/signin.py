"""Sign-in throttling (django-axes, attempts kept in the database so that every web process
sees them): CONFLICTWATCH_SIGNIN_FAILURES wrong passwords for one username from one address
lock that username from that address for CONFLICTWATCH_SIGNIN_LOCK_MINUTES. Other usernames
and other addresses are unaffected, the right password does not help meanwhile, and the lock
ends by itself. API tokens are throttled the same way: wrong `Token` keys from one address
count under the pseudo-username `API_TOKEN`, and past the limit token calls from that address
answer 429 with Retry-After.
"""

from datetime import datetime, timedelta

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth import signals
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

# Usernames cannot hold spaces or brackets, so no account shares this name.
API_TOKEN = "(api token)"
MAX_ADDRESS = 45  # the longest textual IPv6 address


def failure_limit(request: HttpRequest | None = None, credentials=None) -> int:
    """Wrong attempts that lock (axes's AXES_FAILURE_LIMIT)."""
    return settings.CONFLICTWATCH_SIGNIN_FAILURES


def lock_length(request: HttpRequest | None = None) -> timedelta:
    """How long a lock lasts (axes's AXES_COOLOFF_TIME)."""
    return timedelta(minutes=settings.CONFLICTWATCH_SIGNIN_LOCK_MINUTES)


def client_address(request: HttpRequest) -> str:
    """The address a sign-in comes from (axes's AXES_CLIENT_IP_CALLABLE). Behind
    CONFLICTWATCH_PROXY_COUNT trusted proxies, the address the outermost one saw: the entry of
    X-Forwarded-For that many places from its end (earlier entries are the client's to
    invent)."""
    remote = request.META.get("REMOTE_ADDR", "")[:MAX_ADDRESS]
    count = settings.CONFLICTWATCH_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [h for h in hops if h]
    return hops[-count][:MAX_ADDRESS] if len(hops) >= count else remote


def lock_ends(request: HttpRequest, username: str | None) -> datetime:
    """When the lock on this username from this request's address ends."""
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=request.axes_ip_address)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return (last or timezone.now()) + lock_length(request)


def wait_text(ends: datetime) -> tuple[int, str]:
    """(seconds to wait, "try again in 15 minutes, after 10:42 UTC")."""
    seconds = max(1, int((ends - timezone.now()).total_seconds() + 0.999))
    minutes = max(1, round(seconds / 60))
    unit = "minute" if minutes == 1 else "minutes"
    return seconds, f"try again in {minutes} {unit}, after {ends:%H:%M} UTC"


def locked_out(request: HttpRequest, original_response=None, credentials=None) -> HttpResponse:
    """The answer to a locked sign-in (axes's AXES_LOCKOUT_CALLABLE): the sign-in page with
    the reason and when to try again, or for the API a JSON 429 with Retry-After."""
    username = get_client_username(request, credentials)
    seconds, when = wait_text(lock_ends(request, username))
    if username == API_TOKEN:
        response = JsonResponse(
            {"error": f"too many wrong API tokens from your address; {when}"}, status=429
        )
    else:
        message = f"Too many failed sign-ins for this username from your address; {when}."
        form = AuthenticationForm(request, initial={"username": username})
        response = render(
            request, "registration/login.html", {"form": form, "locked": message}, status=429
        )
    response["Retry-After"] = str(seconds)
    return response


def api_token_locked(request: HttpRequest) -> tuple[int, str] | None:
    """(seconds, reason) when token calls from this request's address are locked, else None."""
    credentials = {"username": API_TOKEN}
    if AxesProxyHandler.is_allowed(request, credentials):
        return None
    seconds, when = wait_text(lock_ends(request, API_TOKEN))
    return seconds, f"too many wrong API tokens from your address; {when}"


def api_token_failed(request: HttpRequest) -> None:
    """Count a wrong API token against the request's address."""
    signals.user_login_failed.send(
        sender=__name__, credentials={"username": API_TOKEN}, request=request
    )
