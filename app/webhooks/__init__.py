"""Shopify webhooks: verify, record in the inbox, answer; workers process the inbox later."""
