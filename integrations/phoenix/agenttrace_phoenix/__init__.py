"""Arize Phoenix for agenttrace: a local Phoenix server run from its own venv
(:class:`LocalPhoenix`), and span read-back / annotation write-back (:class:`PhoenixStore`)."""

from .server import DEFAULT_VERSION, LocalPhoenix, PhoenixError, ServerInfo, configured_endpoint, find_running, locate

__all__ = ["DEFAULT_VERSION", "LocalPhoenix", "PhoenixError", "PhoenixStore", "ServerInfo", "configured_endpoint",
           "find_running", "locate"]


def __getattr__(name: str):
    # the store imports phoenix.client (~0.2 s); the CLI only needs the server half
    if name == "PhoenixStore":
        from .store import PhoenixStore

        return PhoenixStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
