"""Fixtures for integration tests: real Postgres, Redis, S3 server, PDFs and HTTP."""
