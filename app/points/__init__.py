"""Points: the ledger, spending, crediting purchases, ranks, daily upkeep, reward codes."""
