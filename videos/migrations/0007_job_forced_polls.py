from django.db import migrations, models


class Migration(migrations.Migration):
    """When a push last made a job's status be asked at once (pushes coalesce per window)."""

    dependencies = [
        ("videos", "0006_key_pool"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="forced_poll_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="job",
            name="forced_final_poll_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
