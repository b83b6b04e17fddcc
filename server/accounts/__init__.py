"""Members, roles, invitations, password logins and bearer-token sessions."""
