"""Members: rows and locks, identity, search, what Shopify should hold for a member."""
