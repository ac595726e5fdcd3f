"""Periodic tasks: what beat runs in production and the embedded runner runs in the demo."""

# task name -> seconds between runs
PERIODIC = {
    "monitor.tasks.sweep_pending_batches": 60.0,
    "monitor.tasks.finalize_retry_outcomes": 60.0,
    "monitor.alerts.tasks.evaluate_alert_rules": 60.0,
    "monitor.alerts.tasks.deliver_due_notifications": 30.0,
    "monitor.tasks.learn_routes": 600.0,
    "monitor.tasks.create_partitions": 3600.0,
    "monitor.tasks.prune_retention": 86400.0,
}


def beat_schedule() -> dict:
    return {
        name.rsplit(".", 1)[1]: {"task": name, "schedule": every}
        for name, every in PERIODIC.items()
    }
