"""Users, their organizations and roles, and signing in."""
