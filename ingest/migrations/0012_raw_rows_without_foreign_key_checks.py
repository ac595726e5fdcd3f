"""The raw table's references (project, batch, endpoint) without database constraints: each was
a per-row check at commit, nearly doubling the cost of storing a batch (docs/architecture.md,
*Ingest speed*). Dropping them takes the table's lock for a moment only; nothing is rewritten.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ingest", "0011_project_in_every_key"),
        ("monitor", "0013_project_in_every_key"),
    ]

    operations = [
        migrations.AlterField(
            model_name="request",
            name="batch",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                to="ingest.ingestbatch",
            ),
        ),
        migrations.AlterField(
            model_name="request",
            name="endpoint",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                to="monitor.endpoint",
            ),
        ),
        migrations.AlterField(
            model_name="request",
            name="project",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.CASCADE,
                to="monitor.project",
            ),
        ),
    ]
