"""Outreach channels: one back-end per way of reaching a person (see ``base``)."""
