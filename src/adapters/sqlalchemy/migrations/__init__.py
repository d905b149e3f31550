"""Alembic environment and revisions of the ScoreMate schema (run through `adapters.sqlalchemy.migrate`)."""
