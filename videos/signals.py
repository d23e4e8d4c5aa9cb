"""Hooks other apps attach to (billing, webhooks). Sent INSIDE the transaction of the change,
so a receiver's writes commit or roll back with it, and a receiver that raises (e.g. quota
exceeded on creation) undoes the change. Receivers must stay quick: no network calls here;
enqueue with transaction.on_commit instead.
"""

from django.dispatch import Signal

# sender=Job class; kwargs: job (the new Job row, with template and team loaded)
job_created = Signal()

# sender=Job class; kwargs: job_id, status (the new status), previous (list of statuses it
# may have come from). Sent once per real transition: a repeated step sends nothing.
job_status_changed = Signal()

# sender=ProviderKey class; kwargs: key_id, kind ("rejected" | "out_of_balance"), reason (the
# upstream's message, as the keys page shows it). Sent when the upstream refuses a key (once:
# when it is marked invalid) or says it has no balance left (each time it is set to rest).
key_health_changed = Signal()
