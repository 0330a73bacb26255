"""Polls in a live room: open, vote, close, live throttled results, prepared drafts and really anonymous polls."""
