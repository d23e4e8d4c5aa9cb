from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_invitation"),
    ]

    operations = [
        migrations.AddField(
            model_name="providerkey",
            name="account",
            field=models.CharField(blank=True, max_length=100),
        ),
        migrations.AddField(
            model_name="providerkey",
            name="max_jobs",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="providerkey",
            name="provider",
            field=models.CharField(max_length=20),
        ),
        migrations.AlterField(
            model_name="providerkey",
            name="region",
            field=models.CharField(max_length=10),
        ),
    ]
