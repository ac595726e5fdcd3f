"""Members and invitations of a project (DESIGN.md "Members"): every member reads them, admins
change them. `POST members/` takes {"user": username or e-mail, "role"} for someone with an
account; `POST invitations/` mails a link to someone without one."""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from monitor.api.permissions import ProjectRole, ProjectScopedMixin
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


class MemberSerializer(serializers.ModelSerializer):
    user = serializers.CharField(
        source="user.username",
        max_length=254,
        help_text="Username (in answers); username or e-mail address when adding.",
    )
    email = serializers.EmailField(source="user.email", read_only=True)
    role = serializers.ChoiceField(
        choices=ROLES, help_text="viewer reads; admin also changes the project."
    )
    created_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Membership
        fields = ["id", "user", "email", "role", "created_at"]


class RoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=ROLES)


class InvitationSerializer(serializers.ModelSerializer):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=ROLES, default=Membership.Role.VIEWER)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)
    sent_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.SerializerMethodField()

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "sent_at", "expires_at"]

    def get_expires_at(self, invitation) -> str:
        return serializers.DateTimeField().to_representation(invitations.expires_at(invitation))


def _refused(exc: MemberError) -> ValidationError:
    return ValidationError({"error": str(exc)})


class MemberList(ProjectScopedMixin, generics.ListAPIView):
    """The project's members, admins first."""

    permission_classes = [ProjectRole]
    serializer_class = MemberSerializer
    pagination_class = None

    def get_queryset(self):
        return members_of(self.project)

    @extend_schema(request=MemberSerializer, responses={201: MemberSerializer})
    def post(self, request, slug):
        """Add a person with an account (by username or e-mail); an existing member gets the
        role. Someone without an account: invite them through invitations/."""
        serializer = MemberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        who = serializer.validated_data["user"]["username"]
        user = find_user(who)
        if user is None:
            hint = " (invite them: POST invitations/)" if "@" in who else ""
            raise ValidationError({"error": f"user: no account {who[:100]!r}{hint}"})
        try:
            membership, created = add_member(self.project, user, serializer.validated_data["role"])
        except MemberError as exc:
            raise _refused(exc) from None
        return Response(
            MemberSerializer(membership).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class MemberDetail(ProjectScopedMixin, generics.RetrieveDestroyAPIView):
    """One member; PATCH {"role"} changes the role, DELETE removes them. A project keeps at
    least one admin (400)."""

    permission_classes = [ProjectRole]
    serializer_class = MemberSerializer

    def get_queryset(self):
        return members_of(self.project)

    @extend_schema(request=RoleSerializer, responses={200: MemberSerializer})
    def patch(self, request, slug, pk):
        membership = self.get_object()
        serializer = RoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            change_role(membership, serializer.validated_data["role"])
        except MemberError as exc:
            raise _refused(exc) from None
        return Response(MemberSerializer(membership).data)

    def perform_destroy(self, instance: Membership) -> None:
        try:
            remove_member(instance)
        except MemberError as exc:
            raise _refused(exc) from None


class InvitationList(ProjectScopedMixin, generics.ListAPIView):
    """Open invitations (not accepted yet). POST mails an invitation: {"email", "role"}."""

    permission_classes = [ProjectRole]
    serializer_class = InvitationSerializer
    pagination_class = None

    def get_queryset(self):
        return Invitation.objects.filter(
            Q(project=self.project) & Q(accepted_at__isnull=True)
        ).select_related("invited_by")

    @extend_schema(request=InvitationSerializer, responses={201: InvitationSerializer})
    def post(self, request, slug):
        serializer = InvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            invitation = invitations.invite(
                self.project,
                serializer.validated_data["email"],
                serializer.validated_data["role"],
                request.user,
            )
        except MemberError as exc:
            raise _refused(exc) from None
        except OSError as exc:  # SMTP down or refusing: the invitation is kept
            answer = Response(
                {
                    "error": f"mail: the invitation is saved but could not be sent ({exc}); "
                    "POST it again to resend"
                },
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
            answer["Retry-After"] = "60"
            return answer
        return Response(InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetail(ProjectScopedMixin, generics.RetrieveDestroyAPIView):
    """One open invitation; DELETE cancels it (its link stops working)."""

    permission_classes = [ProjectRole]
    serializer_class = InvitationSerializer

    def get_queryset(self):
        return Invitation.objects.filter(project=self.project, accepted_at__isnull=True)
