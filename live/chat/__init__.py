"""Chat and Q&A in a live room: messages exactly as typed, deletions, questions with upvotes and answers."""
