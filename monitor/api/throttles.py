"""Rate limit per API token (per user for browser sessions): 429 with Retry-After.

The rate is CONFLICTWATCH_API_RATE ("600/min" by default, "" for no limit), read on every call
so that tests and operators can change it in settings. Counts live in Django's cache: local
memory by default (per process), Redis with CACHE_URL so that all web processes share them.
"""

import hashlib

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str | None:
        return settings.CONFLICTWATCH_API_RATE or None

    def allow_request(self, request, view) -> bool:
        # The rate may change at run time (settings); re-read it for each call.
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        key = getattr(request.auth, "key", None)
        if key:
            # Count under a digest of the token: a shared cache (Redis) never holds a usable key.
            digest = hashlib.sha256(key.encode()).hexdigest()[:32]
            return self.cache_format % {"scope": self.scope, "ident": f"token:{digest}"}
        if request.user and request.user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"user:{request.user.pk}"}
        return None  # refused with 401 before any work; nothing to count
