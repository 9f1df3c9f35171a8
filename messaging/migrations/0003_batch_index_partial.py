"""Batch progress's index covers only messages of a batch (single sends and inbound messages have none).

On an existing schema the new index is built concurrently, before the old one is dropped: sends and
webhooks keep writing meanwhile, and batch progress always has an index. Provisioning a tenant migrates
its new, empty schema inside a transaction, where CONCURRENTLY is not allowed and not needed.
"""

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently, RemoveIndexConcurrently
from django.db import migrations, models


class ConcurrentlyOutsideTransactions:
    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.in_atomic_block:
            return self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.in_atomic_block:
            return self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)
        return super().database_backwards(app_label, schema_editor, from_state, to_state)


class AddIndex(ConcurrentlyOutsideTransactions, AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndex(ConcurrentlyOutsideTransactions, RemoveIndexConcurrently):
    plain = migrations.RemoveIndex


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("messaging", "0002_time_ordered_ids"),
    ]

    operations = [
        AddIndex(
            model_name="message",
            index=models.Index(condition=models.Q(("batch__isnull", False)), fields=["batch", "status"],
                               name="message_batch"),
        ),
        RemoveIndex(model_name="message", name="message_batch_status"),
    ]
