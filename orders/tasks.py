from celery import shared_task

from .emails import order_email_send
from .services import order_reminders_send


@shared_task(name="orders.send_order_email")
def send_order_email(order_id: int, kind: str, **kwargs) -> bool:
    """Only for messages published before emails went through the outbox: queues the
    email there. Nothing publishes this any more; remove it once those have drained."""
    return order_email_send(order_id=order_id, kind=kind, **kwargs)


@shared_task(name="orders.send_reminders")
def send_reminders() -> dict:
    run = order_reminders_send()
    return run.__dict__
