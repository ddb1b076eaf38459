"""HTTP-level stand-ins for the store-side APIs (Smaregi, LINE), reached through httpx transports."""
