"""How the rules are compiled: numba, with an on-disk cache in a user-writable folder.

``njit`` compiles a function the first time it is called with given argument types and keeps
the machine code in the cache folder, so later processes (sweep workers included) load it in
milliseconds. The folder is ``$STRATEGY_ABM_CACHE`` if set, else ``$XDG_CACHE_HOME/strategy_abm``
or ``~/.cache/strategy_abm``, then ``numba-<numba version>-<digest>``: never the installed
package's folder, which may be read-only. The digest covers the sources compiled code is made
from (:data:`COMPILED_SOURCES`): numba checks a cached function against its own file only, and
a kernel inlines rules from other files, so an edit or an upgrade never reuses machine code of
other sources. The three most recent such folders are kept; older ones (marked as ours) go.
``NUMBA_DISABLE_JIT=1`` runs the very same source as plain Python (for a debugger or coverage);
results are identical (tests/test_bulk.py).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

# What compiled code is made of: the kernels and what they read at compile time (column numbers,
# bounds, ids) and call.
COMPILED_SOURCES = ("_compiled.py", "engine", "scenario", "strategies/kernels.py", "sim/bulk.py")
MARKER = ".strategy-abm-cache"
KEEP = 3


def cache_dir() -> Path:
    """The folder of compiled code (see the module's docstring)."""
    root = os.environ.get("STRATEGY_ABM_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "strategy_abm"
    )
    import numba  # noqa: PLC0415  (after the folder is known: see below)

    from ._version import source_digest  # noqa: PLC0415

    return Path(root) / f"numba-{numba.__version__}-{source_digest(*COMPILED_SOURCES)[:16]}"


def _claim(folder: Path) -> None:
    """Mark ``folder`` as this package's cache and remove the oldest of its marked siblings
    beyond :data:`KEEP` (folders without the marker are never touched). Best effort."""
    import shutil  # noqa: PLC0415

    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).touch()
        ours = [p for p in folder.parent.glob("numba-*") if (p / MARKER).is_file()]
        ours.sort(key=lambda p: (p / MARKER).stat().st_mtime, reverse=True)
        for old in ours[KEEP:]:
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass


def _import_numba() -> None:
    """Import numba without PyYAML when there is no numba config file to read: numba imports
    PyYAML (15-30 ms) only to read ``.numba_config.yaml`` from the working folder, at its import.
    With such a file, or PyYAML already imported, numba is imported as usual."""
    if "numba" in sys.modules or "yaml" in sys.modules or os.path.exists(".numba_config.yaml"):
        return
    sys.modules["yaml"] = None  # importing it now raises ImportError at once
    try:
        import numba  # noqa: F401, PLC0415
    finally:
        del sys.modules["yaml"]


def _configure() -> None:
    # numba reads NUMBA_CACHE_DIR when it is imported; if it was imported already, its config is set directly.
    if "NUMBA_CACHE_DIR" not in os.environ:
        path = cache_dir()
        _claim(path)
        folder = str(path)
        os.environ["NUMBA_CACHE_DIR"] = folder
        import numba  # noqa: PLC0415

        numba.config.CACHE_DIR = folder


_import_numba()
_configure()

import numba  # noqa: E402

JIT_DISABLED = bool(numba.config.DISABLE_JIT)


def njit(fn):
    """Compile ``fn`` with numba (cached on disk, no Python objects, IEEE arithmetic: no fastmath,
    so results are those of the same source run as Python, bit for bit)."""
    return numba.njit(cache=True, nogil=True, error_model="numpy")(fn)


def njit_inline(fn):
    """:func:`njit` for a small rule other kernels call: inlined into its callers by numba (a call
    between compiled functions passes each array with reference counting, which costs more than
    a small rule's arithmetic)."""
    return numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")(fn)


def njit_borrowing(fn):
    """:func:`njit` for a kernel that allocates nothing (its scratch arrays come from its caller):
    compiled without numba's reference counting (``_nrt=False``), so the arrays it is given, the
    views it takes and the arrays it passes to the small rules inlined into it are borrowed, not
    counted (an atomic increment and decrement each, which cost more than most rules' arithmetic).
    An allocation inside such a kernel is a compile error, not a leak."""
    return numba.njit(cache=True, nogil=True, error_model="numpy", _nrt=False)(fn)


def njit_wrapping(fn, inline: bool = False, borrowing: bool = False):
    """:func:`njit` (:func:`njit_inline`, :func:`njit_borrowing`) for integer code that relies on
    unsigned wrap-around (engine/pcg.py): compiled, it wraps silently; run as Python
    (``NUMBA_DISABLE_JIT=1``), numpy's overflow warnings are silenced, the numbers being the same."""
    if not JIT_DISABLED:
        return njit_inline(fn) if inline else njit_borrowing(fn) if borrowing else njit(fn)
    import functools  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415

    @functools.wraps(fn)
    def quiet(*args):
        with np.errstate(over="ignore"):
            return fn(*args)

    return quiet


_WARM = {"done": False, "noticed": False, "filled": False, "seen": set()}


def notice_if_cold(*, quiet: bool = False) -> bool:
    """Print a line to stderr (once per process) if the compile cache is empty, so that the first
    run's compilation (about 20 s) does not look like a hang. Returns whether it is empty."""
    if _WARM["filled"]:  # (a cache seen filled stays so: no folder scan for every game)
        return False
    folder = Path(numba.config.CACHE_DIR)
    cold = not JIT_DISABLED and not (folder.exists() and any(folder.glob("**/*.nbi")))
    if cold and not quiet and not _WARM["noticed"]:
        print(f"strategy_abm: compiling the game's rules (first run only; cache in {folder})", file=sys.stderr)
        _WARM["noticed"] = True
    _WARM["filled"] = not cold
    return cold


def notice_if_uncached(function: str) -> None:
    """Print the compiling line (once per process) if the cache holds no machine code of
    ``function`` (``"kernels.play_turn"``: a module's last name and the function's) while it holds
    others': a kernel that only some paths use compiles on its first use (a few seconds)."""
    if JIT_DISABLED or _WARM["noticed"] or function in _WARM["seen"]:
        return
    _WARM["seen"].add(function)
    folder = Path(numba.config.CACHE_DIR)
    if folder.exists() and not any(folder.glob(f"**/{function}-*.nbi")):
        print(f"strategy_abm: compiling {function.rsplit('.', 1)[-1]} (first use only; cache in {folder})",
              file=sys.stderr)  # fmt: skip


def warm_up(compile_all, *, quiet: bool = False) -> float:
    """Compile (or load from the cache) every kernel once, by calling ``compile_all()``; print a
    line to stderr while that compiles for the first time. Returns the seconds it took."""
    if _WARM["done"] or JIT_DISABLED:
        return 0.0
    notice_if_cold(quiet=quiet)
    start = time.perf_counter()
    compile_all()
    _WARM["done"] = True
    return time.perf_counter() - start


def skip_blas_probe() -> None:
    """Load numba's array library without its BLAS probe, which imports ``scipy.linalg`` (0.17 s,
    a fifth of a sweep's start-up) whenever SciPy is installed, to know whether ``np.correlate``
    and ``np.convolve`` on floats may call BLAS (``numba/np/arraymath.py``, ``_HAVE_BLAS``). The
    rules use neither, nor linear algebra; numba's linear algebra still imports SciPy when a
    function using it is compiled. Only for a process the program owns (the CLI and the sweep
    workers it forks): elsewhere the two functions would take numba's plain loop. Does nothing
    once numba's array library or ``scipy.linalg`` is loaded, or when the JIT is disabled."""
    probe = "scipy.linalg.cython_blas"
    if JIT_DISABLED or "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    sys.modules[probe] = None  # importing it now raises ImportError at once, its parents untouched
    try:
        import numba.np.arraymath  # noqa: F401, PLC0415
    finally:
        del sys.modules[probe]


def skip_cffi_support() -> None:
    """Load numba's typing of CFFI functions as if CFFI were not installed: numba builds a
    ``cffi.FFI()`` (parsing C declarations, 25-70 ms) when it first loads a compiled function,
    to type calls of CFFI functions, which the rules never make. Only for a process the program
    owns (the CLI and the sweep workers it forks; a user's own numba code calling CFFI functions
    would not compile there). Does nothing once CFFI or numba's CFFI support is loaded, or when
    the JIT is disabled."""
    support = "numba.core.typing.cffi_utils"
    if JIT_DISABLED or support in sys.modules or "cffi" in sys.modules:
        return
    sys.modules["cffi"] = None  # importing it now raises ImportError at once: numba then has no FFI
    try:
        import numba.core.typing.cffi_utils  # noqa: F401, PLC0415
    finally:
        del sys.modules["cffi"]
