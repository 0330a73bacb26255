"""Live rooms: who is present with which role, what each may do, and the `/live` Socket.IO namespace."""
