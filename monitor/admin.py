"""The Django admin for operators (superusers): projects with their members and invitations.
Sources are in ingest/admin.py, alert rules and incidents in monitor/alerts/admin.py; the
dashboard's own pages remain the way for project admins."""

from django.contrib import admin

from monitor.models import Invitation, Membership, Project


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "created_at", "race_window_seconds", "max_endpoints"]
    search_fields = ["slug", "name"]
    readonly_fields = ["created_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "user__email", "project__slug"]
    autocomplete_fields = ["user", "project"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are made and resent from the members page (which mails the link); here an
    operator sees and cancels them."""

    list_display = ["email", "project", "role", "invited_by", "sent_at", "accepted_at"]
    list_filter = ["role", "project"]
    search_fields = ["email", "project__slug"]
    readonly_fields = [
        "project",
        "email",
        "role",
        "invited_by",
        "sent_at",
        "accepted_at",
        "accepted_by",
    ]

    def has_add_permission(self, request) -> bool:
        return False
