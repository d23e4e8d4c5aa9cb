from django.db import migrations, models


def schedule(apps, schema_editor):
    # The notification email sweeper: hands out again emails whose task was lost, once a minute.
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="notifications.sweep",
        defaults={
            "func": "notifications.tasks.sweep",
            "schedule_type": "I",
            "minutes": 1,
            "repeats": -1,
        },
    )


def unschedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="notifications.sweep").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("email_state", "pending")),
                fields=["created_at"],
                name="notif_email_pending_idx",
            ),
        ),
        migrations.RunPython(schedule, unschedule),
    ]
