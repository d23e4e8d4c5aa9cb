from django.db import migrations, models


class Migration(migrations.Migration):
    """The pool's reads at a million jobs a team: a key's load now counts queued jobs whose
    create may exist, and the team's queue (first come, first served; queue places) is read
    in order without the team's finished jobs."""

    dependencies = [
        ("videos", "0008_open_stream"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="job", name="job_key_in_flight_idx"),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status__in", ["queued", "submitting", "processing"])),
                fields=["key", "status"],
                name="job_key_load_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="job",
            index=models.Index(
                condition=models.Q(("status", "queued")),
                fields=["team", "provider", "created_at"],
                name="job_team_queue_idx",
            ),
        ),
    ]
