"""Strategies from outside the package: ``--plugin FILE_OR_MODULE`` and installed entry points.

A plugin is Python code the user chose to run: a ``.py`` file or an importable module whose
classes subclass :class:`PowerStrategy` or :class:`HostStrategy` with a ``name`` (defining them
registers them) and decide from the actor's observation alone, e.g.::

    from strategy_abm.engine.projects import Offer
    from strategy_abm.strategies import PowerStrategy

    class AlwaysKgz(PowerStrategy):
        name = "always_kgz"
        classifier = {"kinds": ("power",), "stochastic": False, "inspects": ("budget",), "actors": ("us",)}

        def propose(self, obs):  # a HostStrategy implements respond(self, obs), among obs.offers
            move_id = min(sorted(obs.own["toolkit"]), key=lambda m: obs.moves[m].public_cost_share)
            move = obs.moves[move_id]
            if move.size_min_usd_bn * move.public_cost_share > obs.own["budget_available"]:
                return []
            return [Offer(obs.actor, move_id, "kgz", move.size_min_usd_bn)]

(a class with the old signatures, ``propose(self, actor, world)``, is refused with one line that
says so), or an installed package that lists such a module in the entry-point group
``strategy_abm.strategies``::

    [project.entry-points."strategy_abm.strategies"]
    my_doctrines = "my_package.doctrines"

Only the command line (``--plugin``), the Python caller (:func:`load_plugin`) and the installed
packages decide what code runs. A scenario or experiment file only *names* registered
strategies: no config ever makes the program import or execute code.

Each loaded plugin is kept as a :class:`Plugin` with the bytes of its source. The experiment hash
covers them (editing a plugin makes another experiment, so ``--resume`` never mixes results of
two versions), and a sweep's tasks carry them, so that a worker process or a Dask worker loads
the same code under the same module name (:func:`ensure_plugins`) even if it cannot see the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import os
import re
import sys
import threading
import traceback
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..scenario.config import ConfigError
from .base import REGISTRY, REGISTRY_LOADERS, RegistryError

ENTRY_POINT_GROUP = "strategy_abm.strategies"
FILE_MODULE_PREFIX = "strategy_abm_plugin_"  # a file's module name: never shadows a real module


class PluginError(ConfigError):
    """A plugin cannot be loaded (one line naming it and the problem: bad input, exit 2)."""


@dataclass(frozen=True)
class Plugin:
    """A loaded plugin.

    Attributes:
        kind: ``"file"`` (``--plugin path.py``), ``"module"`` (``--plugin package.module``) or
            ``"entry_point"`` (an installed package's entry point).
        spec: as the user gave it (the path or module name; ``name = value`` of an entry point).
        module: the module name it is loaded under (``strategy_abm_plugin_<stem>`` for a file).
        origin: the absolute path of its source file.
        source: the bytes of that file as loaded (what is hashed and what a worker runs).
        strategies: the names it registered.
    """

    kind: str
    spec: str
    module: str
    origin: str
    source: bytes = field(repr=False)
    strategies: tuple[str, ...]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()

    def manifest_entry(self) -> dict:
        """What a results manifest records of it (JSON): which code the runs were played with."""
        return {"kind": self.kind, "spec": self.spec, "module": self.module, "origin": self.origin,
                "sha256": self.sha256, "strategies": list(self.strategies)}  # fmt: skip

    def task_record(self) -> dict:
        """What a sweep's task carries so that a worker can load the plugin (plain data)."""
        return {"kind": self.kind, "spec": self.spec, "module": self.module, "origin": self.origin,
                "source": self.source, "sha256": self.sha256}  # fmt: skip


PLUGINS: dict[str, Plugin] = {}  # module name -> plugin loaded in this process, in load order
# Held while a plugin loads: the threads of a Dask worker may start batches at the same time.
_LOCK = threading.RLock()


def loaded_plugins() -> tuple[Plugin, ...]:
    """Every plugin loaded in this process (the entry points' first), in load order."""
    load_entry_point_strategies()
    return tuple(PLUGINS.values())


def load_plugins(specs: Iterable[str]) -> list[Plugin]:
    """The entry points' strategies, then :func:`load_plugin` of each spec in order (the CLI's
    repeated ``--plugin``)."""
    load_entry_point_strategies()
    return [load_plugin(spec) for spec in specs]


def load_plugin(spec: str) -> Plugin:
    """Import a plugin: a path to a ``.py`` file, or an importable module name.

    A file is run from the bytes read once (those are hashed and shipped to workers) as module
    ``strategy_abm_plugin_<stem>``. Loading the same plugin again returns it.

    Raises:
        PluginError: one line naming ``--plugin`` and the problem: the file or module is
            missing, has a syntax error, raises on import, or registers no new strategy.
    """
    load_entry_point_strategies()  # first: an installed strategy's name is not for a --plugin to take
    text = str(spec)
    with _LOCK:
        if _is_file_spec(text):
            return _load_file(text)
        if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", text):
            raise PluginError(f"--plugin {text!r}: neither a .py file nor a module name")
        return _load_module(text)


def _is_file_spec(text: str) -> bool:
    return text.endswith(".py") or "/" in text or os.sep in text or Path(text).is_file()


def _load_file(text: str) -> Plugin:
    path = Path(text).expanduser()
    where = f"--plugin {text!r}"
    if not path.exists():
        raise PluginError(f"{where}: file not found")
    if path.is_dir():
        raise PluginError(f"{where}: is a folder, not a .py file")
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise PluginError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    module = FILE_MODULE_PREFIX + re.sub(r"\W", "_", path.stem)
    loaded = PLUGINS.get(module)
    if loaded is not None:
        if loaded.source == source:
            return loaded
        raise PluginError(
            f"{where}: a plugin of module name {module!r} is already loaded from other source "
            f"({loaded.origin}); rename one file, or start a new process to load an edited file"
        )
    if module in sys.modules:
        raise PluginError(f"{where}: module name {module!r} is already in use")
    origin = str(path.resolve())
    names = _registering(where, module, lambda: _exec_source(module, source, origin))
    return _keep(Plugin("file", text, module, origin, source, names))


def _load_module(name: str) -> Plugin:
    where = f"--plugin {name!r}"
    loaded = PLUGINS.get(name)
    if loaded is not None:
        return loaded
    if name in sys.modules:  # imported already (a module of this package, say): it registers nothing new
        raise PluginError(f"{where}: registers no new strategy (module {name!r} is already imported)")

    def do_import():
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
                hint = f"; did you mean {name}.py?" if Path(name + ".py").is_file() else ""
                raise PluginError(f"{where}: no module named {exc.name!r} (give a path to a .py file or "
                                  f"an importable module name){hint}") from None  # fmt: skip
            raise

    names = _registering(where, name, do_import)
    origin, source = _source_of(sys.modules[name], where)
    return _keep(Plugin("module", name, name, origin, source, names))


def _registering(where: str, module: str, load) -> tuple[str, ...]:
    """Run ``load`` (which imports or runs ``module``); it must register at least one strategy.
    Returns the new names. On any failure the registry is as it was and ``module`` is not left
    half-imported (other modules it imported stay: a library cannot always be imported twice)."""
    before = dict(REGISTRY)
    drop = None if module in sys.modules else module  # a module imported before is not ours to remove
    try:
        load()
    except PluginError:
        _restore(before, drop)
        raise
    except (Exception, SystemExit) as exc:  # a plugin that calls sys.exit() is a failing plugin too
        _restore(before, drop)
        raise PluginError(f"{where}: {describe_failure(exc)}") from None
    except BaseException:  # Ctrl-C
        _restore(before, drop)
        raise
    new = tuple(sorted(set(REGISTRY) - set(before)))
    if not new:
        _restore(before, drop)
        raise PluginError(
            f"{where}: registers no new strategy (define a subclass of PowerStrategy or HostStrategy "
            "from strategy_abm.strategies with a name)"
        )
    return new


def _restore(registry: dict, module: str | None) -> None:
    # Only the new names go (a registered name is never rebound): a reader in another thread
    # never sees the registry emptied.
    for name in set(REGISTRY) - set(registry):
        del REGISTRY[name]
    if module is not None:
        sys.modules.pop(module, None)


def describe_failure(exc: BaseException) -> str:
    """One line: a syntax error with its file and line, a strategy class that cannot register, or
    the exception an import raised and the plugin line that raised it."""
    if isinstance(exc, SyntaxError):
        at = f"{Path(exc.filename).name}, line {exc.lineno}" if exc.filename else f"line {exc.lineno}"
        return f"syntax error ({at}): {exc.msg}"
    if isinstance(exc, RegistryError):
        return str(exc)
    # The innermost frame of the user's code: not this module's, not the import machinery's.
    frames = traceback.extract_tb(exc.__traceback__)
    inside = [f for f in frames if f.filename != __file__ and not f.filename.startswith("<frozen")]
    at = f" ({Path(inside[-1].filename).name}, line {inside[-1].lineno})" if inside else ""
    return f"raises on import: {type(exc).__name__}: {exc}{at}"


def _exec_source(module_name: str, source: bytes, origin: str) -> types.ModuleType:
    """Run ``source`` as module ``module_name`` (registered in ``sys.modules`` first, as an import
    does, so that its classes can be found by module name: pickling, dataclasses)."""
    module = types.ModuleType(module_name)
    module.__file__ = origin
    package = module_name.rpartition(".")[0]
    module.__package__ = package
    sys.modules[module_name] = module
    try:
        exec(compile(source, origin, "exec"), module.__dict__)  # noqa: S102 - the user's own plugin, by --plugin
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _source_of(module: types.ModuleType, where: str) -> tuple[str, bytes]:
    origin = getattr(module, "__file__", None)
    if not origin:
        raise PluginError(f"{where}: module {module.__name__!r} has no source file to fingerprint")
    try:
        return str(Path(origin).resolve()), Path(origin).read_bytes()
    except OSError as exc:
        raise PluginError(f"{where}: cannot read {origin}: {exc.strerror or exc}") from None


def _keep(plugin: Plugin) -> Plugin:
    PLUGINS[plugin.module] = plugin
    return plugin


# ----------------------------------------------------------------------------- entry points

_ENTRY_POINTS_DONE: list[bool] = []


def load_entry_point_strategies() -> list[Plugin]:
    """Import the modules that installed packages list in the entry-point group
    ``strategy_abm.strategies`` (once per process; the registry's first reader calls it).

    Raises:
        PluginError: one line naming the entry point (its name, value and distribution) and
            the problem, if one cannot be imported or registers no strategy.
    """
    if _ENTRY_POINTS_DONE:
        return []
    with _LOCK:
        if _ENTRY_POINTS_DONE:  # another thread loaded them while this one waited
            return []
        out = [_load_entry_point(ep) for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
               if ep.module not in PLUGINS]  # fmt: skip
        _ENTRY_POINTS_DONE.append(True)  # after: one that failed is tried again (and fails again, loudly)
        return out


def _load_entry_point(ep) -> Plugin:
    dist = getattr(getattr(ep, "dist", None), "name", None)
    where = f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP}{f', package {dist}' if dist else ''})"
    already = tuple(sorted(n for n, c in REGISTRY.items() if c.__module__ == ep.module))
    try:
        names = _registering(where, ep.module, ep.load)
    except PluginError:
        if not already:  # imported before (by a --plugin of the same module, say): its strategies count
            raise
        names = already
    origin, source = _source_of(sys.modules[ep.module], where)
    return _keep(Plugin("entry_point", f"{ep.name} = {ep.value}", ep.module, origin, source, names))


# ------------------------------------------------------------------------------ worker side


def ensure_plugins(records: Iterable[dict]) -> None:
    """Load, in a worker, the plugins a sweep's task carries (see :meth:`Plugin.task_record`):
    each under its module name, unless loaded already. A forked worker has them from its parent;
    a spawned worker or a Dask worker runs the source the task carries (an installed module is
    imported if the worker has it). The loaded code must be byte for byte the driver's.

    Raises:
        PluginError: a plugin cannot be loaded, or the worker's copy differs from the driver's.
    """
    for record in records:
        name, sha = record["module"], record["sha256"]
        with _LOCK:
            plugin = PLUGINS.get(name) or _load_record(record)
        if plugin.sha256 != sha:
            raise PluginError(
                f"plugin {record['spec']!r}: this worker has loaded other source of module {name!r} than the "
                "driver (an edited plugin: restart the workers; an installed module: install the same version "
                "on every worker)"
            )


def _load_record(record: dict) -> Plugin:
    name, where = record["module"], f"plugin {record['spec']!r}"
    kind, origin, source = record["kind"], record["origin"], record["source"]
    if kind == "file":
        if name in sys.modules:
            raise PluginError(f"{where}: module name {name!r} is already in use in this worker")
        strategies = _registering(where, name, lambda: _exec_source(name, source, origin))
        return _keep(Plugin(kind, record["spec"], name, origin, source, strategies))
    if name not in sys.modules:
        with contextlib.suppress(PluginError):  # an installed module: imported as the driver did
            _registering(where, name, lambda: importlib.import_module(name))
    if name in sys.modules:  # the worker's own copy: ensure_plugins compares it with the driver's
        origin, source = _source_of(sys.modules[name], where)
        strategies = tuple(sorted(n for n, c in REGISTRY.items() if c.__module__ == name))
    else:  # not installed on this worker: the driver's source
        strategies = _registering(where, name, lambda: _exec_source(name, source, origin))
    return _keep(Plugin(kind, record["spec"], name, origin, source, strategies))


REGISTRY_LOADERS.append(load_entry_point_strategies)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PLUGINS",
    "Plugin",
    "PluginError",
    "ensure_plugins",
    "load_entry_point_strategies",
    "load_plugin",
    "load_plugins",
    "loaded_plugins",
]
