"""Fixtures every test under tests/ may use; the real code lives in the modules imported here."""

from tests._postgres_fixtures import postgres_db, postgres_dsn  # noqa: F401
