"""Recordings of webinars and welcome seminars, their files, and their replay pages."""
