"""Resolvers of the emulated Admin GraphQL API, one module per area (dispatch.py wires them up)."""
