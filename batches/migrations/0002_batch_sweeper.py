from django.db import migrations


def schedule(apps, schema_editor):
    # The batch sweep: finishes (and announces) batches whose end was missed, once a minute.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="batches.sweep",
        defaults={"func": "batches.tasks.sweep", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="batches.sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("batches", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
