from smtplib import SMTPException

from celery import shared_task

from .emails import order_email_send


@shared_task(
    name="orders.send_order_email",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def send_order_email(order_id: int, kind: str, **kwargs) -> bool:
    return order_email_send(order_id=order_id, kind=kind, **kwargs)


@shared_task(name="orders.send_reminders")
def send_reminders() -> dict:
    from .services import order_reminders_send

    run = order_reminders_send()
    return run.__dict__
