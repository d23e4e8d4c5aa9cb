from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("videos", "0013_media_posters"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="dispatched_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
