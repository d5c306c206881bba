"""Where local Phoenix servers run: one small pointer file per base directory under the user's
state directory (``$XDG_STATE_HOME/agenttrace/phoenix``, default ``~/.local/state/...``), so
``agenttrace phoenix status|url|stop``, the demo and ``agenttrace drift`` find a server started from
another directory. The server's own state stays in its base directory (``server.json``); a pointer
only says where to look, and one whose server is gone is removed when found.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

STATE_ENV = "XDG_STATE_HOME"


def registry_dir() -> Path:
    base = os.environ.get(STATE_ENV, "").strip()
    return (Path(base) if base else Path.home() / ".local" / "state") / "agenttrace" / "phoenix"


def _pointer(base_dir: Path) -> Path:
    key = hashlib.sha256(str(Path(base_dir).resolve()).encode()).hexdigest()[:16]
    return registry_dir() / f"{key}.json"


def remember(base_dir: Path) -> None:
    """Note that a server runs from ``base_dir`` (best effort: an unwritable home only loses the lookup)."""
    try:
        pointer = _pointer(base_dir)
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(json.dumps({"base_dir": str(Path(base_dir).resolve())}) + "\n")
    except OSError:
        pass


def forget(base_dir: Path) -> None:
    try:
        _pointer(base_dir).unlink(missing_ok=True)
    except OSError:
        pass


def remembered() -> list[Path]:
    """Base directories of servers started earlier, the most recently started first."""
    try:
        pointers = sorted(registry_dir().glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return []
    dirs = []
    for pointer in pointers:
        try:
            dirs.append(Path(json.loads(pointer.read_text())["base_dir"]))
        except (OSError, ValueError, KeyError, TypeError):
            pointer.unlink(missing_ok=True)
    return dirs
