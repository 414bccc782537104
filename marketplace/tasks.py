from celery import shared_task

from .services import heartbeat_record


@shared_task(name="marketplace.record_heartbeat")
def record_heartbeat(name: str = "worker") -> str:
    heartbeat_record(name=name)
    return name
