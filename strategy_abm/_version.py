"""The installed package's version, in a module of its own so that every layer may read it
without importing the package's top level (which imports every layer)."""

import functools
import hashlib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

try:
    __version__ = version("strategy_abm")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"


@functools.lru_cache(maxsize=8)
def source_digest(*parts: str) -> str:
    """SHA-256 (hex) of the package's source files, paths and bytes: the code that plays a game
    (the version alone misses edits to an editable install). ``parts``: only the files under
    these paths of the package (``"engine"``, ``"sim/bulk.py"``); all of them by default."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if parts and not any(name == p or name.startswith(p.rstrip("/") + "/") for p in parts):
            continue
        digest.update(name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()
