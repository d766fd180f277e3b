"""The installed package's version, in a module of its own so that every layer may read it
without importing the package's top level (which imports every layer)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("strategy_abm")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+local"
