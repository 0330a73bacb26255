"""Server-rendered pages: login, today, accounts, sessions, the host console and the attendee room."""
