"""What happened: every run and each stack's current position, kept in SQLite."""
