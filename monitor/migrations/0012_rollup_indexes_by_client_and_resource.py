from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitor", "0007_viewer_and_admin_roles_and_invitations"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="clientrollup",
            index=models.Index(
                fields=["project", "client", "minute"],
                include=["endpoint", "requests", "conflicts", "caused", "suffered"],
                name="rollup_client_by_client",
            ),
        ),
        migrations.AddIndex(
            model_name="resourcerollup",
            index=models.Index(
                fields=["project", "resource", "minute"], name="rollup_resource_by_resource"
            ),
        ),
    ]
