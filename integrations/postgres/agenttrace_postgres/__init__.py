"""agenttrace's PostgreSQL integration: the dead-letter queue in a PostgreSQL database."""

from .store import PostgresStore

__all__ = ["PostgresStore"]
