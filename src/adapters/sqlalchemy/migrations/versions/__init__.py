"""Revisions, oldest first. Write new ones with `adapters.sqlalchemy.migrate.autogenerate` and review them."""
