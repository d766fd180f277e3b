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


def format_summary(summary: pd.DataFrame, metrics: list[str], factors: list[str], max_points: int = 40) -> str:
    """The summary as a text table (one line per design point)."""
    shown = summary.head(max_points)
    head = ["point", *factors, *metrics]
    lines = ["  ".join(f"{h:>22}" for h in head)]
    for _, r in shown.iterrows():
        cells = [f"{int(r['point']):>22}", *(f"{str(r[f]):>22}" for f in factors)]
        cells += [f"{r[m + '_mean']:>10.4f} ±{(r[m + '_hi'] - r[m + '_mean']):>9.4f}" for m in metrics]
        lines.append("  ".join(cells))
    if len(summary) > max_points:
        lines.append(f"... {len(summary) - max_points} more design points (load_results for all)")
    return "\n".join(lines)


def point_means(results: pd.DataFrame, metric: str, n_points: int) -> np.ndarray:
    """Mean of a metric over replications, one value per design point in design order."""
    means = results.groupby("point")[metric].mean()
    missing = sorted(set(range(n_points)) - set(means.index))
    if missing:
        raise ConfigError(f"results: design points {missing[:5]} have no successful run; resume the sweep first")
    return means.reindex(range(n_points)).to_numpy(dtype=float)


def sensitivity(folder: str | Path) -> pd.DataFrame:
    """Sobol (S1, ST) or Morris (mu*, sigma) indices of every recorded final metric, with 95%
    confidence intervals, computed on the per-point means over replications (Sobol by SALib,
    Morris by :func:`morris_indices`, with the realised step of integer factors)."""
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
            x = np.array([[p[n] for n in names] for p in points], dtype=float)
            si = morris_indices(problem, x, y, exp["design"]["levels"], exp["master_seed"], _integer_factors(manifest))
            for i, name in enumerate(names):
                rows.append({"metric": metric, "factor": name, "mu_star": si["mu_star"][i],
                             "mu_star_conf": si["mu_star_conf"][i], "sigma": si["sigma"][i]})  # fmt: skip
    return pd.DataFrame(rows)


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
