"""Councils, their seats and their decisions."""
