"""API token authentication, throttled like sign-in (monitor/team/signin.py): past the limit of
wrong keys from one address, token calls from that address answer 429 for a while."""

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from monitor.team import signin


class ThrottledTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        scheme = get_authorization_header(request).split(b" ", 1)[0].lower()
        if scheme != self.keyword.lower().encode():
            return None  # not a token call: the next authentication class decides
        raw = request._request
        locked = signin.api_token_locked(raw)
        if locked is not None:
            seconds, reason = locked
            raise Throttled(wait=seconds, detail=reason)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            signin.api_token_failed(raw)
            raise
