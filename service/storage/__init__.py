"""Durable storage (SQLAlchemy 2): SQLite in DATA_DIR by default, PostgreSQL via DATABASE_URL."""
from service.storage.db import Storage, open_storage

__all__ = ["Storage", "open_storage"]
