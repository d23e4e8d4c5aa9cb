from django.db import migrations

from videos.catalogue import seed_templates


def seed(apps, schema_editor):
    seed_templates(apps.get_model("videos", "VideoTemplate"))
    # The sweeper: hands out due submits/polls and reconciles stuck jobs, once a minute.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="videos.sweep",
        defaults={"func": "videos.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unseed(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="videos.sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
