from __future__ import annotations

from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from videos.catalogue import seed_templates
from videos.models import VideoTemplate
from videos.services import key_store

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105  (the documented demo login)
DEMO_EMAIL = "demo@example.com"
# The sandbox upstream accepts any `sk-` key and any `user:<n>-...` useapi token; gen8
# makes its videos take 8 seconds.
DEMO_KEYS = [
    {"label": "Sandbox MiniMax key", "secret": "sk-sandbox-demo-gen8", "provider": "minimax"},
    {
        "label": "Sandbox useapi.net token",
        "secret": "user:1000-sandbox-demo-gen8",
        "provider": "useapi",
    },
]


class Command(BaseCommand):
    help = (
        "Seed the template catalogue and a demo user whose vault holds a sandbox key per provider."
    )

    def handle(self, *args, **options):
        seed_templates(VideoTemplate)
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_user(DEMO_USER, email=DEMO_EMAIL, password=DEMO_PASSWORD)
            self.stdout.write(f"Created user {DEMO_USER}.")
        # Sign-in needs a verified address (ACCOUNT_EMAIL_VERIFICATION): the demo's is, at once.
        EmailAddress.objects.update_or_create(
            user=user, email=user.email or DEMO_EMAIL, defaults={"verified": True, "primary": True}
        )
        for key in DEMO_KEYS:
            if not user.provider_keys.filter(provider=key["provider"]).exists():
                key_store(
                    user=user, label=key["label"], secret=key["secret"], provider=key["provider"]
                )
                self.stdout.write(f"Stored “{key['label']}” in the demo vault.")
        self.stdout.write(f"Demo login: {DEMO_USER} / {DEMO_PASSWORD}")
