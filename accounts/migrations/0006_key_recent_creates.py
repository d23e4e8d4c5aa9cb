from django.db import migrations, models


class Migration(migrations.Migration):
    """The key's creates-per-minute limit counts over any 60 s (a sliding window), not per
    fixed window, which let 2 x rpm through around a window's edge."""

    dependencies = [
        ("accounts", "0005_team_require_mfa"),
    ]

    operations = [
        migrations.RemoveField(model_name="providerkey", name="rpm_window_count"),
        migrations.RemoveField(model_name="providerkey", name="rpm_window_start"),
        migrations.AddField(
            model_name="providerkey",
            name="recent_creates",
            field=models.JSONField(blank=True, default=list, editable=False),
        ),
    ]
