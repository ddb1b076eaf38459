"""Shopify Flow: loyalty events sent as Flow triggers (an outbox drained via the Admin API), Flow actions."""
