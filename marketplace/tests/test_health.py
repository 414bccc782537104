from django.db import OperationalError
from django.urls import reverse

from marketplace.services import heartbeat_record


def test_healthz_answers_200_when_database_and_broker_answer(client, db):
    heartbeat_record(name="worker")
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["broker"] == "ok"
    assert body["worker_last_seen"] is not None


def test_healthz_answers_503_naming_the_broker_when_it_does_not_answer(client, db, settings):
    # Port 9 on loopback: nothing listens there, so the connection is refused at once.
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable: broker"
    assert body["database"] == "ok"
    assert body["broker"] != "ok"


def test_healthz_answers_503_naming_the_database_when_it_does_not_answer(client, db, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise OperationalError("could not connect to server")

    with monkeypatch.context() as patched:
        patched.setattr(connection, "cursor", refuse)
        response = client.get(reverse("healthz"))
    assert response.status_code == 503
    body = response.json()
    assert body["status"].startswith("unavailable: database")
    assert "could not connect" in body["database"]


def test_healthz_changes_nothing_on_post(client, db):
    assert client.post(reverse("healthz")).status_code == 405
