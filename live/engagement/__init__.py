"""Engagement scoring and the tier/phase engine (pure), and the service that runs it."""
