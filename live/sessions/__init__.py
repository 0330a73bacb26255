"""Scheduled sessions, their lifecycle, invitations with signed join links and .ics invites."""
