from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Team
from integrations.services import TokenInputError, token_create


class Command(BaseCommand):
    help = (
        "Make a personal access token for the JSON API and print it (once: only a hash is "
        "kept). It acts for the user in their personal team, or in --team."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="Command line", help="What the token is for.")
        parser.add_argument("--team", help="Team id or exact name (default: the personal team).")

    def handle(self, *args, username: str, name: str, team: str | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user {username!r}")
        chosen = self._team(user, team)
        try:
            _, raw = token_create(user=user, team=chosen, name=name)
        except TokenInputError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        self.stderr.write(f"Token for {username} in {chosen.name} (shown once):")
        # The token alone on stdout, so `TOKEN=$(manage.py create_token demo)` works.
        self.stdout.write(raw)

    def _team(self, user, team: str | None) -> Team:
        teams = Team.objects.filter(memberships__user=user)
        if team is None:
            chosen = teams.filter(personal_for=user).first() or teams.order_by("pk").first()
        elif team.isascii() and team.isdigit():
            chosen = teams.filter(pk=int(team)).first()
        else:
            chosen = teams.filter(name=team).first()
        if chosen is None:
            raise CommandError(f"{user.get_username()} is not a member of team {team!r}")
        return chosen
