"""Scheduling: events, conferences and their programmes, recurrence, registrations, feeds and import."""
