"""Signals of accounts, for the apps above it to attach to without accounts knowing them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the transaction that made a team (kwargs: team): billing gives it its plan.
team_created = Signal()
