"""Point campaigns as the merchant manages them: drafts, validation, start and stop, and their results.

The rules themselves are pure (app/domain/campaigns.py) and the engine decides each member's awards when it
replays their history (app/points); this package owns the settings and what the campaigns page shows.
"""
