"""A local stand-in for Shopify (Admin GraphQL, OAuth, webhooks) built on Shopify's published schema."""
