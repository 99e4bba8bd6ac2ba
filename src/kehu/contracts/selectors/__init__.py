"""The contracts app's selectors: one module per area (contracts, payments)."""
