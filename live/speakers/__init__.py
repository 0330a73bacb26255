"""Speakers from the audience: attendees a host lets publish camera, microphone and screen until revoked."""
