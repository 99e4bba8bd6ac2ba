"""The contracts app's services: one module per area (contracts, payments)."""
