"""Jobs speak through providers: neutral upstream columns, upload references on inputs,
images made on the way, and templates from a provider's listing.

Existing jobs are carried over: their provider is their template's, MiniMax's `video_url`
and `file_id` move into the provider-private `upstream_data`, and the raw status is read
into the neutral `upstream_state`, so a job made before this migration finishes after it.
"""

from django.db import migrations, models
from django.db.models import Q

import videos.models

# MiniMax's spellings (videos.providers.minimax.STATES), frozen here as migrations must be.
STATES = {
    "preparing": "pending",
    "queueing": "pending",
    "processing": "running",
    "success": "succeeded",
    "succeeded": "succeeded",
    "fail": "failed",
    "failed": "failed",
}


def forwards(apps, schema_editor):
    Job = apps.get_model("videos", "Job")
    for job in Job.objects.select_related("template").iterator(chunk_size=500):
        data = {}
        if job.upstream_video_url:
            data["video_url"] = job.upstream_video_url
        if job.upstream_file_id:
            data["file_id"] = job.upstream_file_id
        Job.objects.filter(pk=job.pk).update(
            provider=job.template.provider,
            upstream_data=data,
            upstream_state=STATES.get(job.upstream_status.strip().lower(), ""),
        )


def backwards(apps, schema_editor):
    Job = apps.get_model("videos", "Job")
    for job in Job.objects.iterator(chunk_size=500):
        data = job.upstream_data or {}
        Job.objects.filter(pk=job.pk).update(
            upstream_video_url=str(data.get("video_url", ""))[:2000],
            upstream_file_id=str(data.get("file_id", ""))[:64],
        )


def schedule_sync(apps, schema_editor):
    # Providers with their own listing refresh it daily (videos.services.catalogue).
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="videos.sync_templates.useapi",
        defaults={
            "func": "videos.tasks.sync_templates",
            "args": "'useapi'",
            "schedule_type": "D",
            "repeats": -1,
        },
    )


def unschedule_sync(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="videos.sync_templates.useapi"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0004_job_fetching_until"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="job", name="job_task_id_only_after_submit"),
        migrations.RemoveConstraint(model_name="videotemplate", name="videotemplate_has_inputs"),
        migrations.AddField(
            model_name="job",
            name="provider",
            field=models.CharField(default="minimax", max_length=20),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="job",
            name="upstream_data",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="job",
            name="upstream_state",
            field=models.CharField(blank=True, max_length=10),
        ),
        migrations.AlterField(
            model_name="job",
            name="upstream_status",
            field=models.CharField(blank=True, max_length=40),
        ),
        migrations.AlterField(
            model_name="job",
            name="upstream_task_id",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(model_name="job", name="upstream_file_id"),
        migrations.RemoveField(model_name="job", name="upstream_video_url"),
        migrations.AddField(
            model_name="attachment",
            name="source_url",
            field=models.URLField(blank=True, max_length=2000),
        ),
        migrations.AddField(
            model_name="attachment",
            name="upstream_ref",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AlterField(
            model_name="attachment",
            name="content_type",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AlterField(
            model_name="attachment",
            name="file",
            field=models.FileField(
                blank=True, max_length=300, upload_to=videos.models._attachment_path
            ),
        ),
        migrations.AlterField(
            model_name="attachment",
            name="kind",
            field=models.CharField(
                choices=[
                    ("input", "Input image"),
                    ("result", "Result video"),
                    ("poster", "Poster"),
                    ("image", "Image made on the way"),
                ],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="jobevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("status", "Status change"),
                    ("progress", "Progress"),
                    ("error", "Error"),
                    ("callback", "Upstream callback"),
                    ("video", "Video stored"),
                    ("image", "Image stored"),
                    ("note", "Note"),
                ],
                max_length=10,
            ),
        ),
        migrations.AlterField(
            model_name="videotemplate",
            name="provider",
            field=models.CharField(max_length=20),
        ),
        migrations.AlterField(
            model_name="videotemplate",
            name="region",
            field=models.CharField(max_length=10),
        ),
        migrations.AddField(
            model_name="videotemplate",
            name="cover",
            field=models.FileField(
                blank=True, max_length=300, upload_to=videos.models._template_asset_path
            ),
        ),
        migrations.AddField(
            model_name="videotemplate",
            name="preview",
            field=models.FileField(
                blank=True, max_length=300, upload_to=videos.models._template_asset_path
            ),
        ),
        migrations.AddField(
            model_name="videotemplate",
            name="inputs_known",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="videotemplate",
            name="synced_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="videotemplate",
            name="source_urls",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=Q(status__in=["processing", "succeeded", "failed", "canceled"])
                | Q(upstream_task_id=""),
                name="job_task_id_only_after_submit",
            ),
        ),
        migrations.AddConstraint(
            model_name="videotemplate",
            constraint=models.CheckConstraint(
                condition=Q(is_active=False) | Q(media_inputs__gt=0) | Q(text_inputs__gt=0),
                name="videotemplate_active_has_inputs",
            ),
        ),
        migrations.RunPython(schedule_sync, unschedule_sync),
    ]
