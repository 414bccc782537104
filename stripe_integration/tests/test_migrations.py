"""The event inbox moved from billing to stripe_integration without moving its table."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db(transaction=True)
def test_events_stored_before_the_move_are_still_there_after_it():
    executor = MigrationExecutor(connection)
    executor.migrate([("stripe_integration", None)])  # and billing's 0004, which needs it
    old = executor.loader.project_state([("billing", "0001_initial")]).apps
    old.get_model("billing", "WebhookEvent").objects.create(
        stripe_id="evt_before", type="payment_intent.succeeded", payload={"id": "evt_before"}
    )
    content_type = old.get_model("contenttypes", "ContentType").objects.get(model="webhookevent")
    assert content_type.app_label == "billing"

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    new = executor.loader.project_state(executor.loader.graph.leaf_nodes()).apps
    assert new.get_model("stripe_integration", "WebhookEvent").objects.get().stripe_id == "evt_before"
    moved = new.get_model("contenttypes", "ContentType").objects.get(model="webhookevent")
    assert (moved.pk, moved.app_label) == (content_type.pk, "stripe_integration")
