"""Alert pages: the rules of a project (create, edit, enable/disable, test-send, delete, their
webhook and Slack channels) and its incidents (history per rule; one incident's page with its
delivery log; acknowledge, mute). Each view gets its project through monitor/access.py;
changes need an admin's role (403 for a viewer)."""

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from monitor.access import is_admin, project_for_admin, project_for_user, projects_for_user
from monitor.alerts import actions
from monitor.alerts.content import incident_deploy
from monitor.alerts.forms import MuteForm, RuleForm
from monitor.alerts.models import AlertRule, Channel, Incident


def isolated(name: str) -> str:
    """A user's text inside a message, between FSI and PDI: a bidi control in it (U+202E)
    reorders nothing of the sentence around it."""
    return f"\u2068{name}\u2069"


MUTE_SPANS = {
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
}
INCIDENTS_SHOWN = 100
NEW_SECRET_KEY = "alerts-new-channel-secret"


def _project(request, slug, *, write: bool = False):
    if write:
        return project_for_admin(request.user, slug), True
    project = project_for_user(request.user, slug)
    return project, is_admin(request.user, project)


def _context(request, project, can_write: bool, **extra) -> dict:
    return {
        "project": project,
        "projects": projects_for_user(request.user).only("slug", "name"),
        "can_write": can_write,
        **extra,
    }


def _rule(project, rule_id: int) -> AlertRule:
    rule = (
        AlertRule.objects.filter(project=project, pk=rule_id)
        .select_related("endpoint", "source")
        .first()
    )
    if rule is None:
        raise Http404("no such rule")
    return rule


def _incident(project, incident_id: int) -> Incident:
    incident = Incident.objects.filter(rule__project=project, pk=incident_id).first()
    if incident is None:
        raise Http404("no such incident")
    return incident


@login_required
def rules(request, slug):
    project, can_write = _project(request, slug, write=request.method == "POST")
    form = RuleForm(request.POST or None, project=project)
    if request.method == "POST" and form.is_valid():
        rule = actions.save_rule(form.save(commit=False))
        messages.success(request, f"Rule “{isolated(rule.name)}” created.")
        return redirect("alerts:rules", slug=project.slug)
    rule_list = (
        AlertRule.objects.filter(project=project)
        .select_related("endpoint", "source")
        .prefetch_related("channels")
        .order_by("name", "id")
    )
    firing = set(
        Incident.objects.filter(rule__project=project, state=Incident.State.FIRING).values_list(
            "rule_id", flat=True
        )
    )
    return render(
        request,
        "alerts/rules.html",
        _context(
            request,
            project,
            can_write,
            rules=rule_list,
            firing=firing,
            form=form,
            resolve_factor=settings.ALERTS_RESOLVE_FACTOR,
        ),
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
def rule(request, slug, rule_id):
    project, can_write = _project(request, slug, write=request.method == "POST")
    alert_rule = _rule(project, rule_id)
    form = RuleForm(request.POST or None, instance=alert_rule, project=project)
    if request.method == "POST" and form.is_valid():
        actions.save_rule(form.save(commit=False))
        messages.success(request, "Rule saved.")
        return redirect("alerts:rule", slug=project.slug, rule_id=alert_rule.id)
    tests = alert_rule.notifications.filter(kind="test").order_by("-created_at", "-id")[:5]
    history = alert_rule.incidents.prefetch_related("notifications")[:20]
    # A new webhook's secret, put in the session by add_channel, is shown on this one page.
    new_secret = request.session.pop(NEW_SECRET_KEY, None) if can_write else None
    return render(
        request,
        "alerts/rule.html",
        _context(
            request,
            project,
            can_write,
            rule=alert_rule,
            form=form,
            tests=tests,
            incidents=history,
            channels=alert_rule.channels.all(),
            channel_kinds=Channel.Kind.choices,
            new_secret=new_secret,
            mute_form=MuteForm(),
            now=timezone.now(),
        ),
        status=400 if form.is_bound and form.errors else 200,
    )


@login_required
@require_POST
def toggle_rule(request, slug, rule_id):
    project, _ = _project(request, slug, write=True)
    alert_rule = _rule(project, rule_id)
    alert_rule.enabled = not alert_rule.enabled
    actions.save_rule(alert_rule)
    state = "enabled" if alert_rule.enabled else "disabled"
    messages.success(request, f"Rule “{isolated(alert_rule.name)}” {state}.")
    return redirect("alerts:rules", slug=project.slug)


@login_required
@require_POST
def test_rule(request, slug, rule_id):
    project, _ = _project(request, slug, write=True)
    alert_rule = _rule(project, rule_id)
    try:
        notification = actions.send_test(alert_rule)
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        if notification.state == notification.State.SENT:
            messages.success(request, f"Test mail sent to {', '.join(notification.recipients)}.")
        else:
            messages.error(
                request,
                f"Test mail not sent yet ({notification.last_error}); it is retried "
                "automatically — see its delivery state below.",
            )
    return redirect("alerts:rule", slug=project.slug, rule_id=alert_rule.id)


def _channel(rule: AlertRule, channel_id: int) -> Channel:
    channel = rule.channels.filter(pk=channel_id).first()
    if channel is None:
        raise Http404("no such channel")
    return channel


@login_required
@require_POST
def add_channel(request, slug, rule_id):
    project, _ = _project(request, slug, write=True)
    alert_rule = _rule(project, rule_id)
    try:
        channel, secret = actions.add_channel(
            alert_rule, request.POST.get("kind", ""), request.POST.get("target", "")
        )
    except actions.ActionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{channel.kind.capitalize()} channel added.")
        if secret:
            request.session[NEW_SECRET_KEY] = {"channel": channel.id, "secret": secret}
    return redirect("alerts:rule", slug=project.slug, rule_id=alert_rule.id)


@login_required
@require_POST
def remove_channel(request, slug, rule_id, channel_id):
    project, _ = _project(request, slug, write=True)
    channel = _channel(_rule(project, rule_id), channel_id)
    actions.remove_channel(channel)
    messages.success(request, f"Channel {channel} removed.")
    return redirect("alerts:rule", slug=project.slug, rule_id=rule_id)


@login_required
@require_POST
def test_channel(request, slug, rule_id, channel_id):
    project, _ = _project(request, slug, write=True)
    channel = _channel(_rule(project, rule_id), channel_id)
    notification = actions.send_channel_test(channel)
    if notification.state == notification.State.SENT:
        messages.success(request, f"Test message delivered to {channel}.")
    else:
        messages.error(
            request,
            f"Test message to {channel} not delivered ({notification.last_error})"
            + ("." if notification.gave_up else "; it is retried automatically."),
        )
    return redirect("alerts:rule", slug=project.slug, rule_id=rule_id)


@login_required
@require_POST
def delete_rule(request, slug, rule_id):
    project, _ = _project(request, slug, write=True)
    alert_rule = _rule(project, rule_id)
    alert_rule.delete()
    messages.success(request, f"Rule “{alert_rule.name}” deleted with its incidents.")
    return redirect("alerts:rules", slug=project.slug)


@login_required
def incidents(request, slug):
    project, can_write = _project(request, slug)
    qs = Incident.objects.filter(rule__project=project).select_related(
        "rule", "rule__endpoint", "acknowledged_by"
    )
    selected = None
    rule_param = request.GET.get("rule", "")
    if rule_param.isdigit():
        selected = _rule(project, int(rule_param))
        qs = qs.filter(rule=selected)
    state = request.GET.get("state", "")
    if state in Incident.State.values:
        qs = qs.filter(state=state)
    return render(
        request,
        "alerts/incidents.html",
        _context(
            request,
            project,
            can_write,
            incidents=qs.prefetch_related("notifications")[:INCIDENTS_SHOWN],
            rules=AlertRule.objects.filter(project=project).order_by("name", "id"),
            selected=selected,
            state=state,
            mute_form=MuteForm(),
            now=timezone.now(),
        ),
    )


@login_required
def incident(request, slug, incident_id):
    project, can_write = _project(request, slug)
    found = (
        Incident.objects.filter(rule__project=project, pk=incident_id)
        .select_related("rule", "rule__endpoint", "rule__source", "acknowledged_by")
        .first()
    )
    if found is None:
        raise Http404("no such incident")
    log = found.notifications.order_by("created_at", "id")
    now = timezone.now()
    return render(
        request,
        "alerts/incident.html",
        _context(
            request,
            project,
            can_write,
            incident=found,
            rule=found.rule,
            deliveries=log,
            deploy=incident_deploy(found),
            duration=(found.resolved_at or now) - found.opened_at,
            mute_form=MuteForm(),
            now=now,
        ),
    )


def _back_to_incidents(request, project, incident: Incident):
    if request.POST.get("next") == "rule":
        return redirect("alerts:rule", slug=project.slug, rule_id=incident.rule_id)
    if request.POST.get("next") == "incident":
        return redirect("alerts:incident", slug=project.slug, incident_id=incident.id)
    return redirect("alerts:incidents", slug=project.slug)


@login_required
@require_POST
def acknowledge(request, slug, incident_id):
    project, _ = _project(request, slug, write=True)
    incident = actions.acknowledge(_incident(project, incident_id), request.user)
    messages.success(request, f"Incident #{incident.id} acknowledged: no more reminders.")
    return _back_to_incidents(request, project, incident)


@login_required
@require_POST
def mute(request, slug, incident_id):
    project, _ = _project(request, slug, write=True)
    incident = _incident(project, incident_id)
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "duration: choose how long to mute")
        return _back_to_incidents(request, project, incident)
    duration = form.cleaned_data["duration"]
    until = None if duration == "off" else timezone.now() + MUTE_SPANS[duration]
    incident = actions.mute(incident, until)
    if until is None:
        messages.success(request, f"Incident #{incident.id} unmuted.")
    else:
        messages.success(
            request, f"Incident #{incident.id} muted until {until:%Y-%m-%d %H:%M} UTC."
        )
    return _back_to_incidents(request, project, incident)
