"""Shopify payload translators: REST webhook bodies, GraphQL nodes and bulk JSONL rows -> domain events."""
