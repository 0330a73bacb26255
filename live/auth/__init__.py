"""Staff users, passwords, API tokens, login cookies and the role permission table."""
