"""Batch progress's index covers only messages of a batch (single sends and inbound messages have none).

Built concurrently, before the old one is dropped: sends and webhooks keep writing meanwhile, and batch
progress always has an index.
"""

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0002_time_ordered_ids"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(condition=models.Q(("batch__isnull", False)), fields=["batch", "status"],
                               name="message_batch"),
        ),
        RemoveIndexConcurrently(model_name="message", name="message_batch_status"),
    ]
