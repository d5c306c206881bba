"""agenttrace's PostgreSQL integration: the dead-letter queue and the alert store in a PostgreSQL database."""

from .alert_store import PostgresAlertStore
from .store import PostgresStore

__all__ = ["PostgresAlertStore", "PostgresStore"]
