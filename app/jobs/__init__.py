"""Background jobs: the webhook inbox, the worker, per-shop leases, wake-ups."""
