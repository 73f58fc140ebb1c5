"""The case store: pseudonymous cases, their visits and an append-only record of every
prediction, in a real database (SQLite by default, PostgreSQL by URL) with Alembic migrations."""
