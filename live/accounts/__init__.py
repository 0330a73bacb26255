"""Customer accounts and contacts: LTV, touch tier, adoption phase, health, overrides, history."""
