"""Shops: install lifecycle, token orchestration, a shop's rules."""
