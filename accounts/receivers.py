from __future__ import annotations

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts.services import team_create_personal


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def give_new_user_a_personal_team(sender, instance, created: bool, raw: bool = False, **kwargs):
    # However the user is created (sign-up, createsuperuser, admin, API), they get a team.
    if created and not raw:
        team_create_personal(user=instance)
