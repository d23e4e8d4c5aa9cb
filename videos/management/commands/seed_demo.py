from __future__ import annotations

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand

from accounts.services import key_store
from videos.catalogue import seed_templates
from videos.models import VideoTemplate

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-portal-2026"  # noqa: S105  (the documented demo login)
# The sandbox upstream accepts any `sk-` key; gen8 makes its videos take 8 seconds.
DEMO_KEY = "sk-sandbox-demo-gen8"


class Command(BaseCommand):
    help = "Seed the template catalogue and a demo user whose vault holds a sandbox key."

    def handle(self, *args, **options):
        seed_templates(VideoTemplate)
        user = User.objects.filter(username=DEMO_USER).first()
        if user is None:
            user = User.objects.create_user(
                DEMO_USER, email="demo@example.com", password=DEMO_PASSWORD
            )
            self.stdout.write(f"Created user {DEMO_USER}.")
        if not user.provider_keys.exists():
            key_store(user=user, label="Sandbox key", secret=DEMO_KEY)
            self.stdout.write("Stored a sandbox key in the demo vault.")
        self.stdout.write(f"Demo login: {DEMO_USER} / {DEMO_PASSWORD}")
