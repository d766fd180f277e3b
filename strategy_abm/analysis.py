"""Analysis of sweep results: summaries with confidence intervals, sensitivity indices (SALib)
and figures. Everything reads a results folder through :mod:`strategy_abm.results`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from .config import ConfigError
from .results import load_manifest, load_results, load_series


def summarise(results: pd.DataFrame, metrics: list[str], factors: list[str]) -> pd.DataFrame:
    """Mean and 95% confidence interval (Student's t over replications) of each metric per point."""
    rows = []
    for point, group in results.groupby("point", sort=True):
        row = {"point": point, "runs": len(group), **{f: group[f].iloc[0] for f in factors}}
        for m in metrics:
            values = group[m].to_numpy(dtype=float)
            mean = float(values.mean())
            n = len(values)
            half = student_t.ppf(0.975, n - 1) * float(values.std(ddof=1)) / math.sqrt(n) if n > 1 else float("nan")
            row[f"{m}_mean"], row[f"{m}_lo"], row[f"{m}_hi"] = mean, mean - half, mean + half
        rows.append(row)
    return pd.DataFrame(rows)


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
        lines.append(f"... {len(summary) - max_points} more design points (load_results for all)")
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
        raise ConfigError(f"results: design points {missing[:5]} have no successful run; resume the sweep first")
    return means.reindex(range(n_points)).to_numpy(dtype=float)


def sensitivity(folder: str | Path) -> pd.DataFrame:
    """Sobol (S1, ST) or Morris (mu*, sigma) indices of every recorded final metric, with 95%
    confidence intervals, computed with SALib on the per-point means over replications."""
    manifest = load_manifest(folder)
    exp = manifest["experiment"]
    kind = exp["design"]["kind"]
    if kind not in ("sobol", "morris"):
        raise ConfigError(f"sensitivity: needs a sobol or morris design, this experiment is {kind!r}")
    names = list(exp["factors"])
    problem = {"num_vars": len(names), "names": names, "bounds": [exp["factors"][n]["range"] for n in names]}
    points = manifest["design"]["points"]
    results = load_results(folder)
    rows = []
    for metric in exp["record"]["final"]:
        y = point_means(results, metric, len(points))
        if kind == "sobol":
            from SALib.analyze import sobol

            si = sobol.analyze(problem, y, calc_second_order=exp["design"]["second_order"], seed=exp["master_seed"])
            for i, name in enumerate(names):
                rows.append({"metric": metric, "factor": name, "S1": si["S1"][i], "S1_conf": si["S1_conf"][i],
                             "ST": si["ST"][i], "ST_conf": si["ST_conf"][i]})  # fmt: skip
        else:
            from SALib.analyze import morris

            x = np.array([[p[n] for n in names] for p in points])
            si = morris.analyze(problem, x, y, num_levels=exp["design"]["levels"], seed=exp["master_seed"])
            for i, name in enumerate(names):
                rows.append({"metric": metric, "factor": name, "mu_star": si["mu_star"][i],
                             "mu_star_conf": si["mu_star_conf"][i], "sigma": si["sigma"][i]})  # fmt: skip
    return pd.DataFrame(rows)


def plot_sensitivity(indices: pd.DataFrame, folder: Path) -> list[Path]:
    """One bar chart per metric: S1 and ST (or mu*) per factor with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for metric, group in indices.groupby("metric", sort=False):
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
        ax.set_title(metric, fontsize=10)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="x")
        fig.tight_layout()
        path = folder / f"sensitivity_{metric}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_results(folder: str | Path) -> list[Path]:
    """Fan charts (median and 5-95% band over replications) per series metric and design point,
    and comparisons of final metrics across design points. PNGs go to ``<folder>/plots``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    manifest = load_manifest(folder)
    exp = manifest["experiment"]
    factors = list(exp["factors"])
    out_dir = folder / "plots"
    out_dir.mkdir(exist_ok=True)
    paths: list[Path] = []
    results = load_results(folder)
    if results.empty:
        raise ConfigError(f"plot: {str(folder)!r} holds no successful run yet")
    labels = {p: _label(manifest["design"]["points"][p], factors) for p in results["point"].unique()}
    few_points = len(labels) <= 12

    series = load_series(folder) if exp["record"]["series"] else pd.DataFrame()
    if not series.empty and few_points:
        for metric in exp["record"]["series"]:
            fig, ax = plt.subplots(figsize=(8, 4.5))
            for point, group in series.groupby("point", sort=True):
                q = group.groupby("turn")[metric].quantile([0.05, 0.5, 0.95]).unstack()
                (line,) = ax.plot(q.index, q[0.5], label=labels[point])
                ax.fill_between(q.index, q[0.05], q[0.95], color=line.get_color(), alpha=0.2)
            ax.set_title(f"{metric}: median and 5-95% band over replications", fontsize=10)
            ax.set_xlabel("turn")
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
            fig.tight_layout()
            paths.append(out_dir / f"fan_{metric}.png")
            fig.savefig(paths[-1], dpi=110)
            plt.close(fig)

    for metric in exp["record"]["final"]:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        if few_points:
            grouped = results.groupby("point", sort=True)[metric]
            q = grouped.quantile([0.05, 0.5, 0.95]).unstack()
            x = np.arange(len(q))
            ax.errorbar(x, q[0.5], yerr=[q[0.5] - q[0.05], q[0.95] - q[0.5]], fmt="o", capsize=4)
            ax.set_xticks(x)
            ax.set_xticklabels([labels[p] for p in q.index], rotation=30, ha="right", fontsize=7)
            ax.set_title(f"{metric} at the horizon: median and 5-95% over replications", fontsize=10)
        else:
            for f in factors[:6]:
                ax.scatter(results[f], results[metric], s=6, alpha=0.4, label=f)
            ax.set_title(f"{metric} at the horizon against each factor", fontsize=10)
            ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        paths.append(out_dir / f"compare_{metric}.png")
        fig.savefig(paths[-1], dpi=110)
        plt.close(fig)
    return paths


def _label(point: dict, factors: list[str]) -> str:
    if not factors:
        return "baseline"
    return ", ".join(f"{f.split('.')[-2] if f.count('.') else f}={point[f]}" for f in factors)
