"""Accounts over GraphQL: invitations, login, roles and one's own account."""
