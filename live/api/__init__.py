"""The HTTP edge of `/api/v1`: error mapping, body parsing and who is asking."""
