"""Sync with Shopify: the syncer, metafields, tags, segments, freshness, backfill, reconciliation."""
