"""The routing work periodic and on-demand tasks run (monitor/tasks.py calls these)."""

import logging

from monitor.models import Project
from monitor.routing import learning, merge

log = logging.getLogger(__name__)


def learn_all() -> int:
    """Learn every project's parameters and merge the endpoints they name alike; also move
    what batches in flight added to merged endpoints. Returns the number of new rules."""
    made = 0
    for project in Project.objects.order_by("id"):
        rules = learning.learn(project)
        made += len(rules)
        # Also after no new rule: a routing change whose task was lost (broker down) is
        # applied here, and what batches in flight added to merged endpoints is moved.
        result = merge.reroute(project)
        if rules or result.endpoints:
            log.info(
                "project %s: learned %s; merged %d endpoints",
                project.slug,
                ", ".join(r.template for r in rules) or "nothing",
                result.endpoints,
            )
    return made


def reroute_project(project_id: int) -> int:
    """Merge the endpoints a project's changed routing names alike; returns how many."""
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return merge.reroute(project).endpoints
