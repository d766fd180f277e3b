"""Analysis of sweep results: summaries with confidence intervals, sensitivity indices (SALib)
and figures. Everything reads a results folder through :mod:`strategy_abm.experiments.results`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import stdtrit  # (scipy.stats.t.ppf's own function, without importing scipy.stats)

from ..engine.metrics import is_binary
from ..report.folders import FaultError, file_in, subfolder
from ..scenario.config import ConfigError, parse_date
from .experiment import problem_of_ranges
from .results import MANIFEST_FIX, load_manifest, load_results, load_series


def summarise(results: pd.DataFrame, metrics: list[str], factors: list[str]) -> pd.DataFrame:
    """Mean and 95% confidence interval (Student's t over replications) of each metric per point."""
    rows = []
    for point, group in results.groupby("point", sort=True):
        row = {"point": point, "runs": len(group), **{f: group[f].iloc[0] for f in factors}}
        for m in metrics:
            values = group[m].to_numpy(dtype=float)
            mean = float(values.mean())
            n = len(values)
            half = stdtrit(n - 1, 0.975) * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
            row[f"{m}_mean"], row[f"{m}_lo"], row[f"{m}_hi"] = mean, mean - half, mean + half
        rows.append(row)
    return pd.DataFrame(rows)


def paired_differences(results: pd.DataFrame, metrics: list[str], factors: list[str]) -> pd.DataFrame:
    """Differences between design points that differ in one factor only, paired by replication:
    for each factor, each point whose value of it is not the factor's first (in design order) is
    compared with the point that has the first value and the same other factors. Per metric, the
    mean over replications of (metric at ``to`` - metric at ``from``, both runs of the same
    replication) and its 95% confidence interval (Student's t over the n replications present at
    both points; NaN bounds with one).

    With ``common_random_numbers`` both runs of a replication play the same seed, hence the same
    shocks and the same draws of every actor the factor does not change: a paired, controlled
    comparison, whose interval excludes most of the spread shared by the two runs. Without it the
    runs are independent; the interval is then still valid, as wide as that of a difference of
    two independent means.

    Returns one row per (factor, from, to, other factors' values, metric): ``factor``, ``from``,
    ``to``, one column per factor (the other factors' values; missing for the varied one), ``metric``,
    ``pairs``, ``diff_mean``, ``diff_lo``, ``diff_hi``."""
    columns = ["factor", "from", "to", *factors, "metric", "pairs", "diff_mean", "diff_lo", "diff_hi"]
    if results.empty or not factors:
        return pd.DataFrame(columns=columns)
    points = results.drop_duplicates("point").set_index("point")[factors].sort_index()
    by_run = results.set_index(["point", "replication"])[metrics]
    rows = []
    for factor in factors:
        others = [f for f in factors if f != factor]
        groups = points.groupby(others, sort=False, dropna=False) if others else [((), points)]
        for _, group in groups:
            base = group.index[0]
            for point in group.index[1:]:
                if group.at[point, factor] == group.at[base, factor]:
                    continue  # (a sampled design may repeat a value)
                a, b = by_run.loc[base], by_run.loc[point]
                common = a.index.intersection(b.index)
                diff = b.loc[common] - a.loc[common]
                fixed = {f: (None if f == factor else group.at[base, f]) for f in factors}
                for m in metrics:
                    d = diff[m].to_numpy(dtype=float)
                    n, mean = len(d), float(d.mean()) if len(d) else float("nan")
                    half = stdtrit(n - 1, 0.975) * float(d.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
                    rows.append({"factor": factor, "from": group.at[base, factor], "to": group.at[point, factor],
                                 **fixed, "metric": m, "pairs": n, "diff_mean": mean, "diff_lo": mean - half,
                                 "diff_hi": mean + half})  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


SUMMARY_WIDTH = 120  # columns of the terminal the sweep's summary is laid out for
INTERVAL_NOTE = (
    "Each metric: mean ± half-width of the 95% confidence interval of the mean over the point's "
    "replications (Student's t, t(0.975, n - 1) sd / sqrt(n), n = runs; n/a with one run)."
)


def format_summary(
    summary: pd.DataFrame, metrics: list[str], factors: list[str], max_points: int = 40, width: int = SUMMARY_WIDTH
) -> str:
    """The summary as text, no line longer than ``width``: a note saying what ± is, then tables
    of one line per design point (the first ``max_points``). Columns that do not fit in one
    table go to the next, each table repeating ``point`` and ``runs``; factors go to tables of
    their own when they leave no room for a metric. Factor keys are shortened to their shortest
    distinct dotted ending (``china.strategy``), with a key to the full names."""
    import textwrap

    shown = summary.head(max_points)
    names = short_keys(factors)
    key = [("point", [str(int(p)) for p in shown["point"]]), ("runs", [str(int(n)) for n in shown["runs"]])]
    factor_cols = [(names[f], [_factor_value(v) for v in shown[f]]) for f in factors]
    metric_cols = [
        (m, [_estimate(r[f"{m}_mean"], r[f"{m}_hi"] - r[f"{m}_mean"]) for _, r in shown.iterrows()]) for m in metrics
    ]
    lines = textwrap.wrap(INTERVAL_NOTE, width)
    renamed = [f"{names[f]} = {f}" for f in factors if names[f] != f]
    if renamed:
        lines.append("Factors:")
        for text in renamed:
            lines += textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="    ")
    fixed = key + factor_cols
    if metric_cols and _table_width([*fixed, max(metric_cols, key=_column_width)]) > width:
        tables = _pack(key, factor_cols, width) + _pack(key, metric_cols, width)
    else:
        tables = _pack(fixed, metric_cols, width)
    for columns in tables:
        widths = [_column_width(c) for c in columns]
        lines.append("")
        lines.append("  ".join(f"{h:>{w}}" for (h, _), w in zip(columns, widths, strict=True)))
        for i in range(len(shown)):
            lines.append("  ".join(f"{cells[i]:>{w}}" for (_, cells), w in zip(columns, widths, strict=True)))
    if len(summary) > max_points:
        more = len(summary) - max_points
        lines.append(f"... {more} more design point{'' if more == 1 else 's'} (load_results for all)")
    return "\n".join(lines)


def short_keys(keys: list[str]) -> dict[str, str]:
    """Short names of dotted factor keys: an actor's key keeps the actor and the last part
    (``powers.china.strategy`` -> ``china.strategy``, ``powers.us.strategy_params.spend_share`` ->
    ``us.spend_share``); another its shortest ending that no other key ends with
    (``moves.policy_bank_loan.loan_rate`` -> ``loan_rate``). Names that would still clash stay whole."""
    out = {}
    for key in keys:
        parts = key.split(".")
        if len(parts) >= 3 and parts[0] in ("powers", "hosts"):
            out[key] = f"{parts[1]}.{parts[-1]}"
            continue
        for n in range(1, len(parts) + 1):
            ending = ".".join(parts[-n:])
            if not any(other != key and (other == ending or other.endswith("." + ending)) for other in keys):
                break
        out[key] = ending
    out = {k: _clip(v) for k, v in out.items()}
    names = list(out.values())
    return {k: v if names.count(v) == 1 else k for k, v in out.items()}


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _factor_value(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else _clip(str(value))


def _estimate(mean: float, half: float) -> str:
    return f"{mean:.4f} ± {'n/a' if math.isnan(half) else f'{half:.4f}'}"


def _column_width(column: tuple[str, list[str]]) -> int:
    header, cells = column
    return max([len(header), *map(len, cells)])


def _table_width(columns: list) -> int:
    return sum(map(_column_width, columns)) + 2 * (len(columns) - 1)


def _pack(fixed: list, columns: list, width: int) -> list[list]:
    """Tables of ``fixed`` and as many of ``columns`` (in order, at least one) as fit in ``width``."""
    tables: list[list] = []
    current: list = []
    for column in columns:
        if current and _table_width([*fixed, *current, column]) > width:
            tables.append([*fixed, *current])
            current = []
        current.append(column)
    if current or not tables:
        tables.append([*fixed, *current])
    return tables


def point_means(results: pd.DataFrame, metric: str, n_points: int) -> np.ndarray:
    """Mean of a metric over replications, one value per design point in design order."""
    means = results.groupby("point")[metric].mean()
    missing = sorted(set(range(n_points)) - set(means.index))
    if missing:
        which = f"design point {missing[0]} has" if len(missing) == 1 else f"design points {missing[:5]} have"
        raise ConfigError(f"results: {which} no successful run; resume the sweep first")
    return means.reindex(range(n_points)).to_numpy(dtype=float)


def sensitivity(folder: str | Path) -> pd.DataFrame:
    """Sobol (S1, ST) or Morris (mu*, sigma) indices of every recorded final metric, with 95%
    confidence intervals, computed on the per-point means over replications (Sobol by SALib,
    Morris by :func:`morris_indices`, with the realised step of integer factors).

    Sobol indices are shares of the metric's variance: for a metric with the same value at every
    design point they are undefined, and given as NaN (SALib is not called: it would divide by
    zero). Such metrics are named in ``attrs["notes"]`` of the frame (one line each). Morris
    indices of such a metric are 0: no factor has an effect."""
    manifest = load_manifest(folder)
    exp = manifest["experiment"]
    kind = exp["design"]["kind"]
    if kind not in ("sobol", "morris"):
        raise ConfigError(f"sensitivity: needs a sobol or morris design, this experiment is {kind!r}")
    names = list(exp["factors"])
    problem = problem_of_ranges({n: exp["factors"][n]["range"] for n in names})
    points = manifest["design"]["points"]
    results = load_results(folder)
    rows, notes = [], []
    for metric in exp["record"]["final"]:
        y = point_means(results, metric, len(points))
        if kind == "sobol":
            from SALib.analyze import sobol

            if np.ptp(y) == 0:
                notes.append(f"note: {metric} is {y[0]:.6g} at every design point: its Sobol indices are "
                             "undefined (no variance to share out), given as NaN")  # fmt: skip
                nan = np.full(len(names), np.nan)
                si = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
            else:
                si = sobol.analyze(problem, y, calc_second_order=exp["design"]["second_order"],
                                   seed=exp["master_seed"])  # fmt: skip
            for i, name in enumerate(names):
                rows.append({"metric": metric, "factor": name, "S1": si["S1"][i], "S1_conf": si["S1_conf"][i],
                             "ST": si["ST"][i], "ST_conf": si["ST_conf"][i]})  # fmt: skip
        else:
            x = np.array([[p[n] for n in names] for p in points], dtype=float)
            try:
                si = morris_indices(problem, x, y, exp["design"]["levels"], exp["master_seed"],
                                    _integer_factors(manifest))  # fmt: skip
            except ValueError as exc:  # the points SALib sampled are trajectories: these were edited
                where = str(Path(folder) / "manifest.json")
                raise FaultError(f"results: {where!r} is damaged (design.points: {exc})", MANIFEST_FIX) from None
            for i, name in enumerate(names):
                rows.append({"metric": metric, "factor": name, "mu_star": si["mu_star"][i],
                             "mu_star_conf": si["mu_star_conf"][i], "sigma": si["sigma"][i]})  # fmt: skip
    indices = pd.DataFrame(rows)
    indices.attrs["notes"] = notes
    return indices


def _integer_factors(manifest: dict) -> list[str]:
    """Factors sampled as integers: from the manifest's ``factor_types``, or (older folders) the
    factors whose every stored value is a JSON integer (sampled floats are stored as ``2.0``)."""
    design = manifest["design"]
    if "factor_types" in design:
        return [f for f, t in design["factor_types"].items() if t == "int"]
    return [f for f in design["factors"] if all(type(p[f]) is int for p in design["points"])]


def morris_indices(
    problem: dict, x: np.ndarray, y: np.ndarray, levels: int, seed: int, integer=(), num_resamples: int = 100
) -> dict[str, np.ndarray]:
    """Morris screening: ``mu``, ``mu_star`` (mean absolute elementary effect), ``sigma`` and the
    95% bootstrap half-width ``mu_star_conf`` per factor, as ``SALib.analyze.morris``.

    ``x``: the design (points x factors, trajectories of k + 1 points one after the other);
    ``y``: one output per point. An elementary effect is the change of y divided by the step
    of its factor as a fraction of the factor's range: the nominal Morris step
    levels / (2 (levels - 1)) for real factors (as SALib), the step actually taken for the
    ``integer`` factors (their levels are whole numbers, so the taken step differs from the
    nominal one). Effects are therefore in units of y per whole range for every factor: a
    response y = a x gives mu* = a (high - low). Raises ValueError if a step changes no factor
    or more than one."""
    names = problem["names"]
    k = len(names)
    bounds = np.asarray(problem["bounds"], dtype=float)
    span = bounds[:, 1] - bounds[:, 0]
    nominal = levels / (2.0 * (levels - 1))
    is_int = np.array([n in set(integer) for n in names])
    n_traj = len(y) // (k + 1)
    xt = np.asarray(x, dtype=float)[: n_traj * (k + 1)].reshape(n_traj, k + 1, k)
    yt = np.asarray(y, dtype=float)[: n_traj * (k + 1)].reshape(n_traj, k + 1)
    ee = np.empty((n_traj, k))  # used transposed, as SALib's: the same summation order, the same bits
    for t in range(n_traj):
        for s in range(k):
            dx = xt[t, s + 1] - xt[t, s]
            (changed,) = np.nonzero(dx)
            if len(changed) != 1:
                raise ValueError(f"Morris trajectory {t}, step {s}: {len(changed)} factors change, expected 1")
            j = changed[0]
            dy = yt[t, s + 1] - yt[t, s]
            ee[t, j] = dy / (dx[j] / span[j]) if is_int[j] else (dy if dx[j] > 0 else -dy) / nominal
    ee = ee.T
    # The statistics and the bootstrap of SALib.analyze.morris (same generator, same draws).
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    conf = []
    for j in range(k):
        resampled = np.abs(ee[j][rng.integers(n_traj, size=(num_resamples, n_traj))]).mean(axis=1)
        conf.append(norm.ppf(0.5 + 0.95 / 2) * resampled.std(ddof=1))
    return {
        "mu": ee.mean(axis=1),
        "mu_star": np.abs(ee).mean(axis=1),
        "sigma": ee.std(axis=1, ddof=1),
        "mu_star_conf": np.array(conf),
    }


def plot_sensitivity(indices: pd.DataFrame, folder: Path) -> list[Path]:
    """One bar chart per metric: S1 and ST (or mu*) per factor with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, group in indices.groupby("metric", sort=False):
        path = file_in(folder, f"sensitivity_{metric}.png")  # metric names come from a manifest
        fig, ax = plt.subplots(figsize=(7, 0.5 + 0.45 * len(group)))
        y = np.arange(len(group))
        if "S1" in group:
            ax.barh(y - 0.2, group["S1"], 0.4, xerr=group["S1_conf"], label="first order S1")
            ax.barh(y + 0.2, group["ST"], 0.4, xerr=group["ST_conf"], label="total ST")
            ax.set_xlabel("Sobol index")
        else:
            ax.barh(y, group["mu_star"], 0.6, xerr=group["mu_star_conf"], label="mu*")
            ax.set_xlabel("Morris mu* (mean absolute elementary effect)")
        ax.set_yticks(y)
        ax.set_yticklabels(group["factor"], fontsize=8)
        undefined = "S1" in group and group["S1"].isna().all()  # a constant metric (see sensitivity)
        ax.set_title(f"{metric}: undefined, the same value at every design point" if undefined else metric,
                     fontsize=10)  # fmt: skip
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_results(folder: str | Path) -> list[Path]:
    """Fan charts per series metric and comparisons of final metrics across design points.
    PNGs go to ``<folder>/plots``.

    With at most 12 design points: a fan chart per series metric over the series' dates (per
    point, the median and 5-95% band over replications; over years when the points' dates
    differ, see :func:`fan_chart`), and per final metric the median and 5-95% range per point.
    A 0/1 metric (:func:`~strategy_abm.engine.metrics.is_binary`, in any scenario) is drawn as the share of
    runs in which it is 1, with its 95% interval. With more points (sampled designs, large
    factorials), one panel per factor (:func:`factor_panels`): every run against a numeric
    factor and the mean in bins of it, or per value of a text or true/false factor. Points are
    labelled with their full factor keys (``powers.china.strategy=bri_2``).

    Raises:
        ConfigError: the folder has no manifest, or no successful run yet.
        FaultError: the manifest or a stored part is damaged (see :func:`results.load_results`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    manifest = load_manifest(folder)
    exp = manifest["experiment"]
    factors = list(exp["factors"])
    paths: list[Path] = []
    results = load_results(folder)
    if results.empty:
        raise ConfigError(f"plot: {str(folder)!r} holds no successful run yet")
    out_dir = subfolder(folder, "plots")
    labels = {p: point_label(manifest["design"]["points"][p], factors) for p in results["point"].unique()}
    few_points = len(labels) <= 12

    series = load_series(folder) if exp["record"]["series"] else pd.DataFrame()
    if not series.empty and few_points:
        for metric in exp["record"]["series"]:
            fig = fan_chart(series, metric, labels)
            paths.append(file_in(out_dir, f"fan_{metric}.png"))
            fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
            plt.close(fig)

    for metric in exp["record"]["final"]:
        fig = compare_chart(results, metric, labels) if few_points else factor_panels(results, metric, factors)
        paths.append(file_in(out_dir, f"compare_{metric}.png"))
        fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
        plt.close(fig)
    return paths


def point_label(point: dict, factors: list[str], sep: str = ", ") -> str:
    """A design point as ``key=value`` pairs with full factor keys (``baseline`` without factors)."""
    if not factors:
        return "baseline"
    return sep.join(f"{f}={_factor_value(point[f])}" for f in factors)


def share_of_runs(values) -> tuple[float, float, float]:
    """Share of runs in which a 0/1 metric is 1, and the 95% Wilson score interval of that
    share: ``(share, low, high)`` with ``0 <= low <= share <= high <= 1`` (NaNs for no runs).
    Wilson's interval is not empty when every run agrees: ``(0, 0, z^2 / (n + z^2))`` when none
    is 1, ``(1, n / (n + z^2), 1)`` when all are (z = 1.96)."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if n == 0:
        return (float("nan"),) * 3
    share = float(v.sum()) / n
    z = 1.959963984540054  # the normal quantile of 0.975
    denom = 1.0 + z * z / n
    centre = (share + z * z / (2 * n)) / denom
    half = z * math.sqrt(share * (1.0 - share) / n + z * z / (4 * n * n)) / denom
    # Exactly, low = 0 when share = 0 and high = 1 when share = 1; in floating point a bound can
    # land a rounding error on the wrong side of the share (5.6e-17 for 0 of 3): clamp.
    return share, min(share, max(0.0, centre - half)), max(share, min(1.0, centre + half))


def _spread(values, binary: bool) -> tuple[float, float, float]:
    """(centre, low, high): the share of runs and its 95% interval for a 0/1 metric, else the
    median and the 5% and 95% quantiles."""
    if binary:
        return share_of_runs(values)
    lo, mid, hi = np.quantile(np.asarray(values, dtype=float), [0.05, 0.5, 0.95])
    return float(mid), float(lo), float(hi)


def error_bars(centre, low, high) -> np.ndarray:
    """Matplotlib's ``xerr``/``yerr`` (2 x n: distances below and above each centre) of intervals
    ``[low, high]`` around ``centre``: never negative (matplotlib refuses that), so a bound a
    rounding error on the wrong side of its centre gives a bar of length 0."""
    c, lo, hi = (np.asarray(v, dtype=float) for v in (centre, low, high))
    return np.vstack([np.maximum(c - lo, 0.0), np.maximum(hi - c, 0.0)])


def _what(metric: str, binary: bool) -> str:
    return f"share of runs with {metric} = 1" if binary else metric


def fan_chart(series: pd.DataFrame, metric: str, labels: dict):
    """A series metric turn by turn, one line and band per design point (``labels``: point ->
    legend text). The x axis: the turns labelled with their dates when every point has the same
    dates turn by turn; the year (at the end of each turn) when points differ (a ``turns_per_year`` or
    ``start`` factor), so that each line is drawn at its own dates; the turn for results stored
    without a ``date`` column, or with dates that cannot be read (the axis label says so)."""
    import matplotlib.pyplot as plt

    binary = is_binary(metric)
    x, axis = _series_x(series)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for point, group in series.assign(x_=x.to_numpy()).groupby("point", sort=True):
        turns = sorted(group["turn"].unique())
        by_turn = group.groupby("turn")[metric]
        at = group.groupby("turn")["x_"].first()[turns].to_numpy(dtype=float)
        stats = np.array([_spread(by_turn.get_group(t), binary) for t in turns])
        (line,) = ax.plot(at, stats[:, 0], label=labels[point])
        ax.fill_between(at, stats[:, 1], stats[:, 2], color=line.get_color(), alpha=0.1 if binary else 0.2)
    band = "share of runs and its 95% interval" if binary else "median and 5-95% band"
    ax.set_title(f"{metric}: {band} over replications", fontsize=10)
    ax.set_ylabel(_what(metric, binary), fontsize=9)
    if binary:
        ax.set_ylim(-0.02, 1.02)
    if axis == "date":
        turns = series.drop_duplicates("turn").sort_values("turn")
        step = max(1, len(turns) // 8)
        ticks = turns.iloc[::step]
        ax.set_xticks(ticks["turn"].tolist())
        ax.set_xticklabels(ticks["date"].tolist(), rotation=45, ha="right", fontsize=8)
    else:
        ax.set_xlabel(axis, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.2), title="design point", title_fontsize=7)
    return fig


YEAR_AXIS = "year (at the end of each turn; the design points' turns differ in length or dates)"
TURN_AXIS = "turn"
TURN_AXIS_MIXED = "turn (the design points' turns differ in dates, which cannot be read)"


def _series_x(series: pd.DataFrame) -> tuple[pd.Series, str]:
    """The x of each row of ``series`` and what the axis is: ``"date"`` (x = turn, labelled by
    the dates all points share), :data:`YEAR_AXIS` (x = :func:`date_year` of the row's date),
    or a turn axis (:data:`TURN_AXIS`, :data:`TURN_AXIS_MIXED`). A row's metrics are the state
    after the period its date names, so it is drawn at the period's end: turn 0 of every point
    at the start of the game, and a year of annual turns where the fourth of quarterly turns."""
    turn = series["turn"].astype(float)
    if "date" not in series:
        return turn, TURN_AXIS
    if (series.groupby("turn")["date"].nunique() <= 1).all():
        return turn, "date"
    try:
        years = {d: date_year(d, end=True) for d in series["date"].unique()}
    except (TypeError, ValueError):
        return turn, TURN_AXIS_MIXED
    return series["date"].map(years).astype(float), YEAR_AXIS


def date_year(label: str, end: bool = False) -> float:
    """The year at the start (or ``end``) of the period a date label names, as a fraction:
    ``2025`` -> 2025.0 (end 2026.0), ``2025Q3`` -> 2025.5 (2025.75), ``2025-04`` -> 2025.25
    (2025.3333), ``2025.2`` (second half-year, the label of ``turns_per_year = 2``) -> 2025.5
    (2026.0). Raises ValueError for another label."""
    text = str(label)
    whole, dot, half = text.partition(".")
    if dot:
        if not (whole.isdigit() and len(whole) == 4 and half in ("1", "2")):
            raise ValueError(f"date {text!r} is not YYYY, YYYYQn, YYYY-MM or YYYY.h")
        start, length = int(whole) + (int(half) - 1) / 2, 1 / 2
    else:
        start = parse_date(text)
        length = 1 / 4 if "Q" in text else 1 / 12 if "-" in text else 1.0
    return start + length if end else start


def compare_chart(results: pd.DataFrame, metric: str, labels: dict):
    """A final metric per design point: median and 5-95% range over replications, or for a 0/1
    metric the share of runs and its 95% interval; one row per point, labelled with its factors."""
    import matplotlib.pyplot as plt

    binary = is_binary(metric)
    points = sorted(results["point"].unique())
    lines_per_label = max(label.count(", ") + 1 for label in labels.values())
    fig, ax = plt.subplots(figsize=(9, 1.4 + len(points) * (0.25 + 0.18 * lines_per_label)))
    for row, point in enumerate(points):
        mid, lo, hi = _spread(results.loc[results["point"] == point, metric], binary)
        ax.errorbar([mid], [row], xerr=error_bars([mid], [lo], [hi]), fmt="o", capsize=4, color="C0")
    ax.set_yticks(range(len(points)))
    ax.set_yticklabels([labels[p].replace(", ", "\n") for p in points], fontsize=7)
    ax.set_ylim(len(points) - 0.5, -0.5)  # first point on top
    ax.set_xlabel(_what(metric, binary), fontsize=9)
    if binary:
        ax.set_xlim(-0.02, 1.02)
    spread = "share of runs and its 95% interval" if binary else "median and 5-95% range over replications"
    ax.set_title(f"{metric} at the horizon: {spread}", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return fig


def factor_panels(results: pd.DataFrame, metric: str, factors: list[str], bins: int = 10):
    """A final metric against each factor, one panel per factor (for many design points).

    A numeric factor: every run as a dot and the mean in ``bins`` quantile bins of the factor
    (each value of a factor with few values) as a line; for a 0/1 metric, the share of runs per
    bin and its 95% interval as a band. A categorical factor (text or true/false): one column
    per value (sorted, at x = 0, 1, ...; tick labels the values), every run as a dot spread
    across its column and the mean as a bar-shaped marker; for a 0/1 metric, the share of runs
    per value with its 95% interval as an error bar."""
    import matplotlib.pyplot as plt

    binary = is_binary(metric)
    ncols = min(3, len(factors))
    nrows = math.ceil(len(factors) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.4 * nrows + 0.6), squeeze=False, sharey=True)
    for ax, f in zip(axes.flat, factors, strict=False):
        if is_categorical(results[f]):
            _category_panel(ax, results[f], results[metric], binary)
        else:
            if not binary:
                ax.scatter(results[f], results[metric], s=6, alpha=0.35, color="C0", label="runs")
            x, mid, lo, hi = binned_means(results[f], results[metric], binary, bins)
            ax.plot(x, mid, color="black", marker="o", ms=3, label="share of runs" if binary else "mean in bins")
            if binary:
                ax.fill_between(x, lo, hi, color="black", alpha=0.15, label="95% interval")
        ax.set_xlabel(f, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(factors) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(_what(metric, binary), fontsize=8)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{metric} at the horizon against each factor", fontsize=10)
    fig.tight_layout()
    return fig


def is_categorical(values: pd.Series) -> bool:
    """Whether a factor's values are categories (text or true/false), not numbers on an axis."""
    return pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values)


def _category_panel(ax, x: pd.Series, y: pd.Series, binary: bool) -> None:
    """One column per value of a categorical factor ``x`` (see :func:`factor_panels`)."""
    values, mid, lo, hi = binned_means(x, y, binary)
    positions = np.arange(len(values), dtype=float)
    if binary:
        ax.errorbar(positions, mid, yerr=error_bars(mid, lo, hi), fmt="o", ms=4, capsize=4, color="black",
                    label="share of runs, 95% interval")  # fmt: skip
    else:
        # Runs spread evenly across their column (no random jitter: the figure is a function of the data).
        column = {v: i for i, v in enumerate(values.tolist())}
        where = x.map(column).to_numpy(dtype=float)
        order = pd.Series(where).groupby(where).cumcount().to_numpy()
        count = pd.Series(where).map(pd.Series(where).value_counts()).to_numpy()
        spread = np.where(count > 1, (order / np.maximum(count - 1, 1) - 0.5) * 0.5, 0.0)
        ax.scatter(where + spread, y.to_numpy(dtype=float), s=6, alpha=0.35, color="C0", label="runs")
        ax.plot(positions, mid, linestyle="none", marker="_", ms=18, mew=2, color="black", label="mean")
    ax.set_xticks(positions)
    slanted = len(values) > 3  # long strategy names would overlap
    ax.set_xticklabels([_factor_value(v) for v in values], rotation=30 if slanted else 0,
                       ha="right" if slanted else "center")  # fmt: skip
    ax.set_xlim(-0.5, len(values) - 0.5)


def binned_means(x: pd.Series, y: pd.Series, binary: bool = False, bins: int = 10):
    """The mean of ``y`` (the share of runs and its interval for a 0/1 metric) in ``bins``
    quantile bins of a numeric ``x`` with more than ``bins`` values, else per value of ``x``.
    Returns arrays ``(x centre, mean, low, high)``; low and high are NaN for a non-0/1 metric."""
    frame = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy(dtype=float)})
    numeric = pd.api.types.is_numeric_dtype(frame["x"]) and not pd.api.types.is_bool_dtype(frame["x"])
    if numeric and frame["x"].nunique() > bins:
        frame["bin"] = pd.qcut(frame["x"], bins, labels=False, duplicates="drop")
    else:
        frame["bin"] = frame["x"]
    rows = []
    for _, group in frame.groupby("bin", sort=True):
        centre = group["x"].mean() if numeric else group["x"].iloc[0]
        if binary:
            rows.append((centre, *share_of_runs(group["y"])))
        else:
            rows.append((centre, group["y"].mean(), float("nan"), float("nan")))
    cols = list(zip(*rows, strict=True))
    return tuple(np.asarray(c, dtype=object if (i == 0 and not numeric) else float) for i, c in enumerate(cols))
