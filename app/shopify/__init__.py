"""The only code that talks to Shopify: session tokens, token exchange and refresh, Admin GraphQL."""
