"""Customers: Shopify customer events, merges, privacy and the compliance topics."""
