"""Fan-out of batch events (client webhooks, notifications). Sent INSIDE the transaction that
marks the batch finished, exactly once per time it finishes (a retry of its failed jobs opens
it again, and it finishes, and is announced, once more)."""

from django.dispatch import Signal

# sender=Batch class; kwargs: batch_id
batch_finished = Signal()
