"""Celery tasks for alerts: a few lines each; the work lives in evaluate.py and delivery.py."""

from celery import shared_task

from monitor.alerts import delivery, evaluate


@shared_task(acks_late=True)
def evaluate_alert_rules() -> dict:
    return evaluate.evaluate_rules()


@shared_task(acks_late=True)
def deliver_notification(notification_id: int) -> bool:
    return delivery.deliver(notification_id)


@shared_task(acks_late=True)
def deliver_due_notifications() -> int:
    return delivery.deliver_due()
