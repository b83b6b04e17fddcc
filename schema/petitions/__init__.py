"""Petitions: signing openly or anonymously, receipts, exact live tallies and thresholds."""
