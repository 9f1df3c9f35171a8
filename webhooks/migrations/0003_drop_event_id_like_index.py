"""Drop the ``varchar_pattern_ops`` index Django adds beside the unique ``event_id``.

It only serves ``LIKE 'prefix%'`` lookups, which nothing does on event ids,
and every stored webhook paid for it (the receiver's one statement is an
insert into this table).
"""

from django.db import migrations

DROP_LIKE_INDEXES = """
DO $$
DECLARE index_name text;
BEGIN
    FOR index_name IN
        SELECT indexname FROM pg_indexes
        WHERE schemaname = current_schema() AND tablename = 'webhooks_webhookevent'
          AND indexdef LIKE '%varchar_pattern_ops%'
    LOOP
        EXECUTE format('DROP INDEX %I', index_name);
    END LOOP;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_pending_events")]

    operations = [migrations.RunSQL(DROP_LIKE_INDEXES, reverse_sql=migrations.RunSQL.noop)]
