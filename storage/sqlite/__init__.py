"""The embedded backend: SQLite through Python's own sqlite3, used when MONGODB_URL is unset."""
