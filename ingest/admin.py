"""Sources in the Django admin: never their token hashes (nor tokens, which are not stored).
New tokens come from the sources page, the API or `createsource` (shown once there)."""

from django.contrib import admin

from ingest.models import Source


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "format", "token_hint", "last_used_at", "revoked_at"]
    list_filter = ["project", "format"]
    search_fields = ["name", "project__slug"]
    fields = ["project", "name", "format", "token_hint", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["project", "token_hint", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False  # a source without a token shown to anyone would be useless
