"""Integrations with systems other than Shopify: Smaregi POS and LINE."""
