"""Smaregi POS: webhooks, transaction and member ingest, reconciliation, rank/points push-back."""
