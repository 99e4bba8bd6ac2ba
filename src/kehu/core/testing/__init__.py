"""Test helpers every app reuses: an organisation with one user per role, API clients."""
