"""Rate limit per API token (per user for browser sessions): 429 with Retry-After.

The rate is CONFLICTWATCH_API_RATE ("600/min" by default, "" for no limit), read on every call
so that tests and operators can change it in settings. Calls are counted in fixed windows
(a minute for "/min", aligned to the clock, as GitHub's API counts its hour) with one atomic
increment in Django's cache, so that any number of web processes sharing the cache (Redis with
CACHE_URL) let exactly the rate through. DRF's own throttle reads a list of past calls and
writes it back, which let concurrent calls in different processes through past the limit.
Without CACHE_URL the cache is each process's own memory, and so is the count.
"""

import hashlib
import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str | None:
        return settings.CONFLICTWATCH_API_RATE or None

    def allow_request(self, request, view) -> bool:
        # The rate may change at run time (settings); re-read it for each call.
        self.rate = self.get_rate()
        if self.rate is None:
            return True
        self.num_requests, self.duration = self.parse_rate(self.rate)
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.window_ends = (window + 1) * self.duration
        key = f"{ident}:{window}"
        try:
            count = self._count(key)
        except Exception:
            # The cache (Redis) is down: answer rather than fail every call with a 500.
            log.warning("API rate limit not counted: the cache is unavailable", exc_info=True)
            return True
        return count <= self.num_requests

    def _count(self, key: str) -> int:
        # add() then incr(): both atomic, so concurrent calls each get their own number.
        self.cache.add(key, 0, self.duration + 1)
        try:
            return self.cache.incr(key)
        except ValueError:  # the window's key expired between the two
            self.cache.add(key, 0, self.duration + 1)
            return self.cache.incr(key)

    def wait(self) -> float:
        return max(self.window_ends - self.timer(), 1)

    def get_cache_key(self, request, view) -> str | None:
        key = getattr(request.auth, "key", None)
        if key:
            # Count under a digest of the token: a shared cache (Redis) never holds a usable key.
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            return self.cache_format % {"scope": self.scope, "ident": f"token:{digest}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}
        return None  # refused with 401 before any work; nothing to count
