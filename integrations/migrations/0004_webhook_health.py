import django.db.models.deletion
from django.db import migrations, models


def attach_endpoints(apps, schema_editor):
    # Every URL a team's deliveries went to becomes one endpoint, healthy to begin with (a
    # failing streak starts counting at the next failed attempt).
    Delivery = apps.get_model("integrations", "WebhookDelivery")
    Endpoint = apps.get_model("integrations", "WebhookEndpoint")
    pairs = Delivery.objects.filter(endpoint__isnull=True).values_list("team_id", "url").distinct()
    for team_id, url in pairs.iterator():
        endpoint, _created = Endpoint.objects.get_or_create(team_id=team_id, url=url)
        Delivery.objects.filter(team_id=team_id, url=url, endpoint__isnull=True).update(
            endpoint=endpoint
        )


class Migration(migrations.Migration):
    # Webhook replay and endpoint health (integrations.health): endpoints per team and URL,
    # test events without a job, skipped deliveries, and a per-delivery attempt budget that
    # a replay raises by one.

    dependencies = [
        ("integrations", "0003_attempt_drop_response_excerpt"),
    ]

    operations = [
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.URLField(max_length=1024)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_success_at", models.DateTimeField(blank=True, null=True)),
                ("failing_since", models.DateTimeField(blank=True, null=True)),
                ("disabled_at", models.DateTimeField(blank=True, null=True)),
                ("disabled_reason", models.CharField(blank=True, max_length=300)),
                ("disabled_notified_at", models.DateTimeField(blank=True, null=True)),
                (
                    "team",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="webhook_endpoints",
                        to="accounts.team",
                    ),
                ),
            ],
            options={
                "ordering": ["team", "-created_at"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("team", "url"), name="webhookendpoint_team_url_uniq"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("disabled_at__isnull", False),
                            ("disabled_notified_at__isnull", True),
                            _connector="OR",
                        ),
                        name="webhookendpoint_notified_only_when_disabled",
                    ),
                ],
                "indexes": [
                    models.Index(
                        condition=models.Q(
                            ("disabled_at__isnull", False), ("disabled_notified_at__isnull", True)
                        ),
                        fields=["disabled_at"],
                        name="endpoint_unnotified_idx",
                    ),
                ],
            },
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="endpoint",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="integrations.webhookendpoint",
            ),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="max_attempts",
            field=models.PositiveSmallIntegerField(default=8),
        ),
        migrations.AddField(
            model_name="webhookdelivery",
            name="replayed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event_type",
            field=models.CharField(
                choices=[
                    ("video.processing", "video.processing"),
                    ("video.succeeded", "video.succeeded"),
                    ("video.failed", "video.failed"),
                    ("test.ping", "test.ping"),
                ],
                max_length=30,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="job",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="webhook_deliveries",
                to="videos.job",
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("succeeded", "Delivered"),
                    ("failed", "Gave up"),
                    ("skipped", "Skipped (endpoint disabled)"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("job__isnull", False), ("event_type", "test.ping"), _connector="OR"
                ),
                name="delivery_job_or_test",
            ),
        ),
        # Last: on PostgreSQL, altering a table after updating its rows in the same
        # transaction fails while deferred foreign-key checks are pending.
        migrations.RunPython(attach_endpoints, migrations.RunPython.noop),
    ]
