import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """The audit log (issue 14): append-only rows of security-relevant acts."""

    dependencies = [
        ("accounts", "0006_key_recent_creates"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                ("actor_label", models.CharField(blank=True, max_length=150)),
                ("ip", models.GenericIPAddressField(blank=True, null=True)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("signin.succeeded", "Signed in"),
                            ("signin.failed", "Sign-in failed"),
                            ("key.added", "Key added"),
                            ("key.shared", "Key shared"),
                            ("key.unshared", "Key unshared"),
                            ("key.deleted", "Key deleted"),
                            ("key.rotated", "Key rotated"),
                            ("token.minted", "API token minted"),
                            ("token.revoked", "API token revoked"),
                            ("invitation.sent", "Invitation sent"),
                            ("invitation.accepted", "Invitation accepted"),
                            ("member.role_changed", "Member role changed"),
                            ("member.removed", "Member removed"),
                            ("plan.changed", "Plan changed"),
                            ("webhook_secret.rotated", "Webhook secret rotated"),
                            ("mfa.enabled", "Two-factor enabled"),
                            ("mfa.disabled", "Two-factor disabled"),
                            ("share.created", "Share link made"),
                            ("share.revoked", "Share link revoked"),
                        ],
                        max_length=40,
                    ),
                ),
                ("target", models.CharField(blank=True, max_length=200)),
                ("data", models.JSONField(blank=True, default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "team",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="audit_events",
                        to="accounts.team",
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [
                    models.Index(fields=["team", "-at", "-id"], name="auditevent_team_at_idx"),
                    models.Index(fields=["action", "-at"], name="auditevent_action_at_idx"),
                ],
            },
        ),
    ]
