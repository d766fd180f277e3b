"""History matching of the assumed parameters against dated observations, on the sweep runner.

Method (Craig et al. 1997; Vernon et al. 2010; for stochastic simulators Andrianakis et al.
2015). For a parameter point x and an observation z (``configs/observations.toml``),

    I(x) = |E[f(x)] - z| / sqrt(V_obs + V_run(x) + V_disc)

with E[f(x)] the mean of the observed quantity over the point's replications, V_obs the
observation error (the observation's ``tolerance`` taken as ``tolerance_sigmas`` standard
deviations), V_run(x) the variance of one run of the game at x (the world is one realisation)
plus that of the mean, s^2 (1 + 1/R), and V_disc the model discrepancy (``discrepancy_fraction``
of |z|, as a standard deviation). A point is non-implausible when max_z I(x) <= ``cutoff``
(3, Pukelsheim's three-sigma rule). Wave 1 is a Latin hypercube over the prior ranges; each
later wave a Latin hypercube over the bounding box of the previous wave's non-implausible points
(padded by one LHS cell), every point run by the sweep runner (``run_sweep``: seeds from each
run's identity, bulk path). The plausible set is every non-implausible point of every wave.

Files written to the output folder: ``waves.csv`` (every point evaluated), ``plausible.csv`` and
``plausible.toml`` (the plausible set and its method as data), ``robustness.csv`` and
``robustness.md`` (the doctrine comparisons re-run at each plausible point), ``sweeps/`` (the
sweeps' own folders).
"""

from __future__ import annotations

import hashlib
import io
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from ..scenario.config import ConfigError, Strict, _format_validation_error, load_scenario, read_toml
from ..scenario.names import FolderName
from .experiment import Experiment, ExperimentConfig, code_fingerprint, problem_of_ranges
from .observations import Observation, load_observations, metric_terms, observation_turns, values_from_sweep

METHOD = "history matching (Craig et al. 1997; Vernon et al. 2010), maximum implausibility over the observations"


class RangeFactor(Strict):
    range: list[Annotated[float, Field(allow_inf_nan=False)]]

    @model_validator(mode="after")
    def _two(self):
        if len(self.range) != 2 or not self.range[0] < self.range[1]:
            raise ValueError(f"range: give [low, high] with low < high, got {self.range}")
        return self


class Waves(Strict):
    """``count`` waves of ``points`` Latin hypercube points each; ``cutoff`` on max implausibility."""

    count: Annotated[int, Field(ge=1, le=10)] = 2
    points: Annotated[int, Field(ge=2, le=100_000)]
    cutoff: Annotated[float, Field(gt=0, le=10)] = 3.0


class Variances(Strict):
    """How the denominator of the implausibility is made (see the module)."""

    tolerance_sigmas: Annotated[float, Field(gt=0, le=10)] = 3.0
    discrepancy_fraction: Annotated[float, Field(ge=0, le=1)] = 0.05


class Comparison(Strict):
    """A doctrine comparison: ``factor`` = ``a`` against ``b``, on the mean of ``metrics`` at the
    horizon; ``expect`` the sign reported as holding (``a > b`` or ``a < b``)."""

    id: str
    what: str
    factor: Literal["powers.china.strategy", "powers.us.strategy"]
    a: str
    b: str
    metrics: list[str] = Field(min_length=1)
    expect: Literal["a > b", "a < b"] = "a > b"


class Compare(Strict):
    """The doctrine comparisons re-run at each plausible point (China x US doctrines)."""

    scenario: str = "baseline"
    replications: Annotated[int, Field(ge=2, le=1000)] = 10
    master_seed: Annotated[int, Field(ge=0, lt=2**63)] = 2025
    max_points: Annotated[int, Field(ge=1, le=10_000)] = 100
    china: list[str] = Field(default_factory=lambda: ["bri_classic", "bri_2"], min_length=1)
    us: list[str] = Field(default_factory=lambda: ["pgii_asymmetric", "fossil_first"], min_length=1)
    comparisons: list[Comparison] = Field(default_factory=list)


class CalibrationConfig(Strict):
    """A history-matching file (``experiments/calibration/*.toml``)."""

    name: FolderName  # it names the default results folder: never a path
    description: str = ""
    observations: list[str] | None = None  # ids; default every observation of the file
    observations_file: str | None = None  # default configs/observations.toml
    overrides: list[str] = Field(default_factory=list)
    replications: Annotated[int, Field(ge=2, le=1000)]
    master_seed: Annotated[int, Field(ge=0, lt=2**63)]
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 64
    waves: Waves
    variances: Variances = Field(default_factory=Variances)
    factors: dict[str, RangeFactor] = Field(min_length=1)
    compare: Compare | None = None


@dataclass(frozen=True)
class Target:
    """An observation as history matching uses it: value, variances, where the model gives it
    (``turns``: the turns whose mean is compared, :func:`~.observations.observation_turns`;
    ``metrics``: the model metrics whose product is the quantity, :func:`~.observations.metric_terms`).
    The game's values are read by :func:`~.observations.values_from_sweep` from ``observation``."""

    id: str
    value: float
    obs_var: float
    disc_var: float
    scenario: str
    turns: tuple[int, ...]
    metrics: tuple[str, ...]
    observation: Observation | None = None


def implausibility(mean, value, obs_var, run_var, disc_var) -> np.ndarray:
    """I = |mean - value| / sqrt(obs_var + run_var + disc_var), elementwise (arrays broadcast).
    A zero denominator gives 0 where mean == value and inf elsewhere."""
    mean, run_var = np.asarray(mean, dtype=float), np.asarray(run_var, dtype=float)
    diff = np.abs(mean - value)
    denom = np.sqrt(obs_var + run_var + disc_var)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(denom > 0, diff / np.where(denom > 0, denom, 1.0), np.where(diff > 0, np.inf, 0.0))
    return out


def lhs_points(ranges: dict[str, Sequence[float]], n: int, seed: int) -> np.ndarray:
    """``n`` Latin hypercube points over ``ranges`` (SALib, seeded): what a ``latin_hypercube``
    experiment with these ranges and master seed samples."""
    from SALib.sample import latin

    return latin.sample(problem_of_ranges(ranges), n, seed=seed)


def refocused_box(points: np.ndarray, keep: np.ndarray, box: dict, prior: dict, n: int) -> dict | None:
    """The bounding box of the kept points, padded by one Latin hypercube cell of the current
    box (width / n) on each side and clipped to the prior ranges; None if no point is kept."""
    if not keep.any():
        return None
    out = {}
    for j, name in enumerate(box):
        low, high = box[name]
        pad = (high - low) / n
        lo = max(prior[name][0], float(points[keep, j].min()) - pad)
        hi = min(prior[name][1], float(points[keep, j].max()) + pad)
        if not lo < hi:  # one distinct value kept: a cell around it
            lo, hi = max(prior[name][0], lo - pad), min(prior[name][1], hi + pad)
        out[name] = [lo, hi]
    return out


def history_match(
    simulate: Callable[[int, dict, np.ndarray], tuple[np.ndarray, np.ndarray, int]],
    targets: Sequence[Target],
    prior: dict[str, Sequence[float]],
    waves: Waves,
    master_seed: int,
) -> tuple[pd.DataFrame, list[dict]]:
    """Run the waves. ``simulate(wave, box, points)`` returns, per point and target, the mean
    and the variance of one run over replications, and the replications used. Returns every
    point evaluated (columns: wave, point, the factors, ``mean_<id>``, ``sd_<id>``, ``I_<id>``,
    ``I_max``, ``plausible``) and, per wave, its box and counts."""
    names = list(prior)
    box = {k: list(map(float, v)) for k, v in prior.items()}
    frames, log = [], []
    for wave in range(1, waves.count + 1):
        seed = master_seed + wave - 1
        x = lhs_points(box, waves.points, seed)
        mean, var, reps = simulate(wave, box, x)
        run_var = var * (1.0 + 1.0 / reps)
        imp = np.column_stack(
            [implausibility(mean[:, j], t.value, t.obs_var, run_var[:, j], t.disc_var) for j, t in enumerate(targets)]
        )
        i_max = imp.max(axis=1)
        keep = i_max <= waves.cutoff
        frame = pd.DataFrame(x, columns=names)
        frame.insert(0, "point", np.arange(len(x)))
        frame.insert(0, "wave", wave)
        for j, t in enumerate(targets):
            frame[f"mean_{t.id}"] = mean[:, j]
            frame[f"sd_{t.id}"] = np.sqrt(var[:, j])
            frame[f"I_{t.id}"] = imp[:, j]
        frame["I_max"] = i_max
        frame["plausible"] = keep
        frames.append(frame)
        log.append(
            {
                "wave": wave,
                "seed": seed,
                "points": len(x),
                "plausible": int(keep.sum()),
                "box": {k: list(v) for k, v in box.items()},
                "within_cutoff": {t.id: int((imp[:, j] <= waves.cutoff).sum()) for j, t in enumerate(targets)},
            }
        )
        box = refocused_box(x, keep, box, prior, waves.points)
        if box is None:
            break
    return pd.concat(frames, ignore_index=True), log


# ------------------------------------------------------------------------------------ the game


def load_calibration(path: str | Path) -> CalibrationConfig:
    """Read and validate a calibration file (one-line ConfigError)."""
    path = Path(path)
    if not path.is_file():
        builtin = Path(__file__).resolve().parents[2] / "experiments" / "calibration" / f"{path}.toml"
        if path.suffix != ".toml" and builtin.is_file():
            path = builtin
        else:
            raise ConfigError(f"calibration: file {str(path)!r} does not exist")
    try:
        return CalibrationConfig.model_validate(read_toml(path))
    except ValidationError as exc:
        raise ConfigError(_format_validation_error(exc)) from None


def targets_of(cfg: CalibrationConfig) -> tuple[list[Target], list[Observation]]:
    """The observations the file names (by default every modelled one the model's metrics give)
    as targets: where the model gives each is the observations module's (:func:`metric_terms`,
    :func:`observation_turns`), so the calibration and the out-of-sample checks read one quantity.

    Raises:
        ConfigError: an unknown id, an observation that is not modelled or that only a recorded
            run's actors.csv gives, or overrides that move an observation's turns.
    """
    observations = load_observations(cfg.observations_file)
    by_id = {o.id: o for o in observations}
    if cfg.observations is not None:
        chosen = cfg.observations
    else:
        chosen = [o.id for o in observations if metric_terms(o) is not None]
    targets, used = [], []
    for oid in chosen:
        if oid not in by_id:
            raise ConfigError(f"observations: unknown observation {oid!r} (ids: {', '.join(by_id)})")
        o = by_id[oid]
        if not o.modelled:
            raise ConfigError(f"observations: {oid} is not modelled ({o.not_modelled}); history matching cannot use it")
        terms = metric_terms(o)
        if terms is None:
            raise ConfigError(
                f"observations: {oid}: actors.csv column {o.column!r} has no model metric the sweep records; "
                "history matching cannot use it"
            )
        turns = observation_turns(o, load_scenario(o.scenario, cfg.overrides))
        if turns != observation_turns(o):  # the sweep's values are read at the scenario's own turns
            raise ConfigError(f"overrides: move the turns of observation {oid} ({o.scenario}'s start or turn length)")
        obs_sd = o.tolerance / cfg.variances.tolerance_sigmas
        disc_sd = cfg.variances.discrepancy_fraction * abs(o.value)
        targets.append(Target(o.id, o.value, obs_sd**2, disc_sd**2, o.scenario, tuple(turns), terms, o))
        used.append(o)
    return targets, used


def _wave_experiment(
    cfg: CalibrationConfig, scenario: str, box: dict, n: int, seed: int, horizon: int, metrics: list[str], name: str
) -> Experiment:
    exp_cfg = ExperimentConfig.model_validate(
        {
            "name": name,
            "description": f"{cfg.name}: a history-matching wave on {scenario}",
            "scenario": scenario,
            "overrides": cfg.overrides,
            "horizon_turns": horizon,
            "replications": cfg.replications,
            "master_seed": seed,
            "batch_size": cfg.batch_size,
            "design": {"kind": "latin_hypercube", "samples": n},
            "factors": {k: {"range": list(v)} for k, v in box.items()},
            "record": {"final": [], "series": metrics},
        }
    )
    return Experiment(exp_cfg)


def _sweep(experiment: Experiment, folder: Path, workers: int, progress: bool, resume: bool):
    from .results import ResultStore
    from .sweep import run_sweep

    store = ResultStore(folder, experiment, resume=resume)
    report = run_sweep(experiment, store, workers=workers, progress=progress)
    if report.failed:
        raise ConfigError(f"calibration: {report.failed} runs of {folder} failed (see its failures/)")


def game_simulator(
    cfg: CalibrationConfig,
    targets: Sequence[Target],
    out: Path,
    *,
    workers: int = 1,
    progress: bool = False,
    resume: bool = False,
):
    """``simulate(wave, box, points)`` for :func:`history_match` that plays each point's runs
    with the sweep runner, one Latin hypercube experiment per scenario of the targets (the same
    points: same ranges, size and seed), up to the last observed turn."""
    from .results import load_results, load_series

    scenarios = sorted({t.scenario for t in targets})

    def simulate(wave: int, box: dict, x: np.ndarray):
        seed = cfg.master_seed + wave - 1
        mean = np.full((len(x), len(targets)), np.nan)
        var = np.full((len(x), len(targets)), np.nan)
        for scenario in scenarios:
            mine = [(j, t) for j, t in enumerate(targets) if t.scenario == scenario]
            horizon = max(t.turns[-1] for _, t in mine)
            metrics = sorted({m for _, t in mine for m in t.metrics})
            exp = _wave_experiment(cfg, scenario, box, len(x), seed, horizon, metrics, f"{cfg.name}_w{wave}_{scenario}")
            got = np.array([[p[k] for k in box] for p in exp.points])
            if not np.array_equal(got, x):  # the sweep's design is the one sampled here
                raise AssertionError("the wave's Latin hypercube differs from the sweep's design")
            folder = out / "sweeps" / f"wave{wave}_{scenario}"
            _sweep(exp, folder, workers, progress, resume)
            results, series = load_results(folder), load_series(folder)
            points = results.sort_values("key")["point"].to_numpy()  # values_from_sweep's order
            for j, t in mine:
                values = values_from_sweep(t.observation, (results, series))
                if values is None:  # cannot happen: the sweep records every term at every turn
                    raise AssertionError(f"the wave's sweep lacks the series of {t.id}")
                per = pd.DataFrame({"point": points, "v": values}).groupby("point")["v"]
                mean[:, j] = per.mean().reindex(range(len(x))).to_numpy()
                var[:, j] = per.var(ddof=1).reindex(range(len(x))).to_numpy()
        return mean, var, cfg.replications

    return simulate


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(value)


def write_plausible(
    out: Path,
    cfg: CalibrationConfig,
    evaluated: pd.DataFrame,
    log: list[dict],
    observations: list[Observation],
    targets: list[Target],
) -> pd.DataFrame:
    """Write ``waves.csv``, ``plausible.csv`` and ``plausible.toml`` (the method and metadata)."""
    evaluated.to_csv(out / "waves.csv", index=False)
    plausible = evaluated[evaluated["plausible"]].drop(columns="plausible").reset_index(drop=True)
    plausible.to_csv(out / "plausible.csv", index=False)
    names = list(cfg.factors)
    lines = [
        "# The plausible set of the history matching: written by `strategy-abm calibrate`; do not edit.",
        f"name = {_toml(cfg.name)}",
        f"method = {_toml(METHOD)}",
        f"implausibility = {_toml('|E[f(x)] - z| / sqrt(V_obs + V_run (1 + 1/R) + V_disc)')}",
        f"cutoff = {_toml(cfg.waves.cutoff)}",
        f"waves = {len(log)}",
        f"points_per_wave = {cfg.waves.points}",
        f"replications = {cfg.replications}",
        f"master_seed = {cfg.master_seed}",
        f"tolerance_sigmas = {_toml(cfg.variances.tolerance_sigmas)}",
        f"discrepancy_fraction = {_toml(cfg.variances.discrepancy_fraction)}",
        f"overrides = {_toml(cfg.overrides)}",
        f"evaluated = {len(evaluated)}",
        f"plausible = {len(plausible)}",
        f"code_fingerprint = {_toml(code_fingerprint())}",
        f"plausible_csv_sha256 = {_toml(_sha256(out / 'plausible.csv'))}",
        "",
        "[prior]",
        *(f'"{k}" = {_toml(list(map(float, cfg.factors[k].range)))}' for k in names),
        "",
        "[plausible_range]",
        *(f'"{k}" = {_toml([float(plausible[k].min()), float(plausible[k].max())])}' for k in names if len(plausible)),
    ]
    for o, t in zip(observations, targets, strict=True):
        lines += [
            "",
            "[[observation]]",
            f"id = {_toml(o.id)}",
            f"scenario = {_toml(o.scenario)}",
            f"date = {_toml(o.date)}",
            f"period = {_toml(o.period)}",
            f"turns = {_toml(list(t.turns))}",
            f"value = {_toml(o.value)}",
            f"tolerance = {_toml(o.tolerance)}",
            f"source = {_toml(o.source)}",
            f"obs_sd = {_toml(math.sqrt(t.obs_var))}",
            f"discrepancy_sd = {_toml(math.sqrt(t.disc_var))}",
        ]
    for w in log:
        lines += [
            "",
            "[[wave]]",
            f"wave = {w['wave']}",
            f"seed = {w['seed']}",
            f"points = {w['points']}",
            f"plausible = {w['plausible']}",
            "within_cutoff = { " + ", ".join(f"{k} = {v}" for k, v in w["within_cutoff"].items()) + " }",
            "box = { " + ", ".join(f'"{k}" = {_toml(v)}' for k, v in w["box"].items()) + " }",
        ]
    (out / "plausible.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return plausible


def load_plausible(folder: str | Path) -> tuple[pd.DataFrame, dict]:
    """The stored plausible set (``plausible.csv``) and its metadata (``plausible.toml``), checked
    against each other: the CSV's digest and number of rows, every factor of the prior present
    and inside its range, every point's maximum implausibility within the cut-off.

    Raises:
        ConfigError: a file is missing or the two disagree (the message says how).
    """
    folder = Path(folder)
    meta_path, csv_path = folder / "plausible.toml", folder / "plausible.csv"
    for p in (meta_path, csv_path):
        if not p.is_file():
            raise ConfigError(f"plausible set: {str(p)!r} is missing")
    meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    if _sha256(csv_path) != meta.get("plausible_csv_sha256"):
        raise ConfigError(f"plausible set: {csv_path} is not the file {meta_path.name} describes (digest differs)")
    df = pd.read_csv(csv_path)
    if len(df) != meta["plausible"]:
        raise ConfigError(f"plausible set: {len(df)} rows, the metadata says {meta['plausible']}")
    for k, (low, high) in meta["prior"].items():
        if k not in df.columns:
            raise ConfigError(f"plausible set: factor {k!r} missing from {csv_path.name}")
        if len(df) and not ((df[k] >= low) & (df[k] <= high)).all():
            raise ConfigError(f"plausible set: {k} outside its prior range [{low}, {high}]")
    if len(df) and not (df["I_max"] <= meta["cutoff"]).all():
        raise ConfigError("plausible set: a point's implausibility is above the cut-off")
    return df, meta


# ------------------------------------------------------------------------------------ doctrines


def robustness(
    cfg: CalibrationConfig,
    plausible: pd.DataFrame,
    out: Path,
    *,
    workers: int = 1,
    progress: bool = False,
    resume: bool = False,
) -> pd.DataFrame:
    """Each comparison of ``cfg.compare`` at each plausible point (at most ``max_points``, evenly
    spread over the set) and at the scenario's own values (``point = -1``): China's x the US's
    doctrines, ``replications`` runs each, a sweep per point. Returns one row per (point,
    comparison, other doctrine): the means of a and b, their difference and its 95% half-width
    (Welch), and whether the expected sign holds."""
    from scipy.stats import t as student

    from .results import load_results

    comp = cfg.compare
    names = list(cfg.factors)
    metrics = sorted({m for c in comp.comparisons for m in c.metrics})
    chosen = plausible
    if len(plausible) > comp.max_points:
        chosen = plausible.iloc[np.linspace(0, len(plausible) - 1, comp.max_points).round().astype(int)]
    points = [(-1, {})] + [(i, {k: float(row[k]) for k in names}) for i, row in chosen.iterrows()]
    rows = []
    for index, values in points:
        exp_cfg = ExperimentConfig.model_validate(
            {
                "name": f"{cfg.name}_doctrines_{'scenario' if index < 0 else index}",
                "scenario": comp.scenario,
                "overrides": cfg.overrides + [f"{k}={v!r}" for k, v in values.items()],
                "replications": comp.replications,
                "master_seed": comp.master_seed,
                "batch_size": cfg.batch_size,
                "design": {"kind": "full_factorial"},
                "factors": {"powers.china.strategy": {"values": comp.china}, "powers.us.strategy": {"values": comp.us}},
                "record": {"final": metrics},
            }
        )
        folder = out / "sweeps" / f"doctrines_{'scenario' if index < 0 else f'p{index}'}"
        _sweep(Experiment(exp_cfg), folder, workers, progress, resume)
        df = load_results(folder)
        for c in comp.comparisons:
            other_key = "powers.us.strategy" if c.factor == "powers.china.strategy" else "powers.china.strategy"
            y = df[c.metrics].mean(axis=1)
            for other in df[other_key].unique():
                sub = df[other_key] == other
                a, b = y[sub & (df[c.factor] == c.a)], y[sub & (df[c.factor] == c.b)]
                diff = a.mean() - b.mean()
                va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
                se = math.sqrt(va + vb)
                dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if se > 0 else 1.0
                half = float(student.ppf(0.975, dof)) * se if se > 0 else 0.0
                sign = 1.0 if c.expect == "a > b" else -1.0
                rows.append(
                    {
                        "point": index,
                        "comparison": c.id,
                        "other": other,
                        "mean_a": a.mean(),
                        "mean_b": b.mean(),
                        "diff": diff,
                        "half_width": half,
                        "holds": sign * diff > 0,
                        "holds_significantly": sign * diff > half,
                        "reversed_significantly": -sign * diff > half,
                    }
                )
    table = pd.DataFrame(rows)
    table.to_csv(out / "robustness.csv", index=False)
    return table


def robustness_markdown(
    cfg: CalibrationConfig, meta: dict, plausible: pd.DataFrame, table: pd.DataFrame | None, baseline: dict[str, float]
) -> str:
    """The markdown fragment for docs/validation.md: method and ranges, robustness per comparison."""
    buf = io.StringIO()
    w = buf.write
    w("## Calibration method and ranges\n\n")
    w(
        f"Method: {meta['method']}. Implausibility I(x) = {meta['implausibility']}; V_obs = (tolerance / "
        f"{meta['tolerance_sigmas']:g})^2, V_disc = ({meta['discrepancy_fraction']:g} |z|)^2, V_run the variance "
        f"of one run over {meta['replications']} replications; cut-off {meta['cutoff']:g} on the maximum over the "
        f"observations. {meta['waves']} wave(s) of {meta['points_per_wave']} Latin hypercube points (wave 1 over "
        f"the prior ranges, each later one over the padded bounding box of the previous wave's non-implausible "
        "points), "
        f"master seed {meta['master_seed']}; {meta['plausible']} of {meta['evaluated']} points evaluated are "
        f"plausible. Code fingerprint `{meta['code_fingerprint'][:12]}`. Regenerate with `make calibration`.\n\n"
    )
    w(
        "| observation | scenario, date | value | tolerance | points within the cut-off, per wave |\n"
        "|---|---|---|---|---|\n"
    )
    for o in meta["observation"]:
        per = ", ".join(f"{wv['within_cutoff'][o['id']]}/{wv['points']}" for wv in meta["wave"])
        w(f"| `{o['id']}` | {o['scenario']}, {o['date']} | {o['value']:g} | {o['tolerance']:g} | {per} |\n")
    w("\n| parameter | scenario value | prior range | plausible range |\n|---|---|---|---|\n")
    for k, (low, high) in meta["prior"].items():
        pr = meta.get("plausible_range", {}).get(k)
        plaus = f"{pr[0]:.4g} - {pr[1]:.4g}" if pr else "(empty)"
        w(f"| `{k}` | {baseline.get(k, float('nan')):.4g} | {low:.4g} - {high:.4g} | {plaus} |\n")
    w("\n## Robustness of each doctrine comparison\n\n")
    if table is None or table.empty:
        w("No plausible point: the comparisons were not re-run.\n")
        return buf.getvalue()
    comp = cfg.compare
    w(
        f"Each comparison at each plausible point ({table[table.point >= 0].point.nunique()} points), "
        f"{comp.replications} replications per doctrine pair, {comp.scenario}'s horizon; 'holds' counts the "
        "points where the mean difference has the expected sign, 'significant' those where its 95% interval (Welch) "
        "excludes 0, 'reversed' those where the interval lies on the other side. The last column is the "
        "scenario's own parameter values.\n\n"
    )
    w(
        "| comparison | against | holds | significant | reversed | at the scenario's values |\n"
        "|---|---|---|---|---|---|\n"
    )
    for c in comp.comparisons:
        for other in table[table.comparison == c.id].other.unique():
            sub = table[(table.comparison == c.id) & (table.other == other) & (table.point >= 0)]
            base = table[(table.comparison == c.id) & (table.other == other) & (table.point < 0)].iloc[0]
            n = len(sub)
            w(
                f"| {c.what} ({c.a} {c.expect[2]} {c.b}) | {other} | {sub.holds.sum()}/{n} ({sub.holds.mean():.0%}) | "
                f"{sub.holds_significantly.sum()}/{n} | {sub.reversed_significantly.sum()}/{n} | "
                f"{base['diff']:+.4g} ± {base['half_width']:.2g} |\n"
            )
    return buf.getvalue()


def calibrate(
    path: str | Path | CalibrationConfig,
    out: str | Path,
    *,
    workers: int = 1,
    progress: bool = False,
    resume: bool = False,
) -> dict:
    """The whole calibration of file ``path`` (or a validated config) into folder ``out`` (see the
    module): the waves, the plausible set, the doctrine comparisons and their markdown. Returns a
    summary dict (points evaluated, plausible, waves run)."""
    cfg = path if isinstance(path, CalibrationConfig) else load_calibration(path)
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not resume:
        raise ConfigError(f"--out: {str(out)!r} is not empty; add --resume or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    targets, observations = targets_of(cfg)
    base = load_scenario(cfg.compare.scenario if cfg.compare else "baseline", cfg.overrides)
    from .experiment import _stored

    baseline = {k: float(_stored(base, k)) for k in cfg.factors}
    simulate = game_simulator(cfg, targets, out, workers=workers, progress=progress, resume=resume)
    evaluated, log = history_match(
        simulate, targets, {k: f.range for k, f in cfg.factors.items()}, cfg.waves, cfg.master_seed
    )
    write_plausible(out, cfg, evaluated, log, observations, targets)
    plausible, meta = load_plausible(out)
    table = None
    if cfg.compare is not None and cfg.compare.comparisons and len(plausible):
        table = robustness(cfg, plausible, out, workers=workers, progress=progress, resume=resume)
    (out / "robustness.md").write_text(robustness_markdown(cfg, meta, plausible, table, baseline), encoding="utf-8")
    return {"evaluated": len(evaluated), "plausible": len(plausible), "waves": len(log)}


__all__ = ["CalibrationConfig", "calibrate", "history_match", "implausibility", "load_plausible"]
