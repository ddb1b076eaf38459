"""The set-based ingest of orders and refunds: chunks of a backfill or reconciliation in a few statements."""
