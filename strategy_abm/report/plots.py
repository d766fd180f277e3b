"""Figures of one game, drawn from its output frames (so a saved run can be re-plotted).

Each ``plot_*`` function saves its figure to ``path`` and returns it (closed to pyplot, still
inspectable). ``source`` (e.g. ``"baseline, seed 0"``) goes into every figure's title, so a PNG
says which game it shows.

The actors and routes drawn are those of the frames (a scenario's own ids); ``names`` (actor id ->
name, e.g. ``Scenario.display_names()``) labels them, else the baseline's names, else the ids.

``marks`` (turn numbers) puts an amber triangle on the turn axis of every panel at each marked turn t:
the turns in which someone decided (the classroom's debrief marks those where students did); the
value at t is the state after that turn's decisions."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..scenario.ids import NAMES  # noqa: E402

POWER_COLOURS = {"china": "#d62728", "us": "#1f77b4", "g7": "#17becf", "russia": "#7f7f7f"}
HOST_COLOURS = {"kaz": "#1b9e77", "uzb": "#d95f02", "kgz": "#7570b3", "tjk": "#e7298a", "tkm": "#66a61e"}
ROUTE_COLOURS = {"northern": "#7f7f7f", "middle": "#1f77b4", "southern": "#ff7f0e"}
# Colours of the ids the maps above do not know (a scenario's own actors and routes), in turn.
EXTRA_COLOURS = ("#8c564b", "#bcbd22", "#9467bd", "#e6ab02", "#2ca02c", "#a6761d", "#17a589", "#ff9896")


def _ids(model: pd.DataFrame, prefix: str) -> list[str]:
    """The ids of a family of metric columns (``debt_to_gdp_`` -> the hosts), in column order."""
    return [c[len(prefix) :] for c in model.columns if c.startswith(prefix)]


def _colours(ids: list[str], known: Mapping[str, str]) -> list[str]:
    extra = iter(EXTRA_COLOURS * (1 + len(ids) // len(EXTRA_COLOURS)))
    return [known[i] if i in known else next(extra) for i in ids]


def _names(ids: list[str], names: Mapping[str, str] | None) -> list[str]:
    return [(names or {}).get(i) or NAMES.get(i, i) for i in ids]


def _dates(ax, model: pd.DataFrame) -> None:
    step = max(1, len(model) // 8)
    ticks = list(range(0, len(model), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels(model["date"].iloc[ticks], rotation=45, ha="right", fontsize=8)
    ax.grid(alpha=0.3)


def _lines(ax, model, columns, labels, colours, title, ylabel):
    for col, label, colour in zip(columns, labels, colours, strict=True):
        ax.plot(model["turn"], model[col], label=label, color=colour)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    _dates(ax, model)


MARK_COLOUR = "#ffbf00"  # marked turns: amber, apart from every actor's and route's colour


def _finish(fig, title: str, source: str | None, path, marks: Sequence[int] = ()):
    """Title (with the game it shows), the marked turns on every panel (all have turns on x),
    layout, save (``path``: a file name or a binary file object, PNG), release from pyplot;
    returns the figure."""
    for ax in fig.axes if marks else ():
        if ax.get_visible():  # a triangle on the x axis at each marked turn (x in data, y in the axes' units)
            ax.plot(list(marks), [0.0] * len(marks), marker="^", ls="none", ms=7, color=MARK_COLOUR,
                    markeredgecolor="#7a5a00", transform=ax.get_xaxis_transform(), clip_on=False, zorder=5)  # fmt: skip
    fig.suptitle(f"{title}: {source}" if source else title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return fig


def plot_influence(
    model: pd.DataFrame,
    actors: pd.DataFrame,
    path: Path,
    source: str | None = None,
    names: Mapping | None = None,
    *,
    marks: Sequence[int] = (),
):
    """Regional influence shares and each host's influence shares over time (three panels a row)."""
    powers, hosts = _ids(model, "spent_usd_bn_"), _ids(model, "debt_to_gdp_")
    colours = _colours(powers, POWER_COLOURS)
    rows_n = math.ceil((1 + len(hosts)) / 3)
    fig, axes = plt.subplots(rows_n, 3, figsize=(13, 3.5 * rows_n), sharey=True, squeeze=False)
    ax = axes[0, 0]
    ax.stackplot(model["turn"], *(model[f"influence_{p}"] for p in powers), labels=_names(powers, names),
                 colors=colours, alpha=0.85)  # fmt: skip
    ax.set_title("Region (GDP-weighted)", fontsize=10)
    ax.set_ylabel("influence share")
    _dates(ax, model)
    ax.legend(loc="lower left", fontsize=8)
    for ax, h, label in zip(axes.flat[1:], hosts, _names(hosts, names), strict=False):
        rows = actors[actors["actor"] == h]
        ax.stackplot(rows["turn"], *(rows[f"influence_share_{p}"] for p in powers), colors=colours, alpha=0.85)
        ax.set_title(label, fontsize=10)
        _dates(ax, model)
    for ax in axes.flat[1 + len(hosts) :]:
        ax.set_visible(False)  # a grid's spare panels
    for ax in axes.flat:
        ax.set_ylim(0, 1)
    return _finish(fig, "Influence shares by power", source, path, marks=marks)


def plot_debt(
    model: pd.DataFrame,
    path: Path,
    source: str | None = None,
    names: Mapping | None = None,
    *,
    marks: Sequence[int] = (),
):
    """Public external debt / GDP, China's share of it, the debt-service ratio, and each host's
    turns in debt distress (one row per host, a bar for each turn in distress)."""
    fig, axes = plt.subplots(2, 2, figsize=(13, 8))
    axes = axes.flat
    hosts = _ids(model, "debt_to_gdp_")
    labels, colours = _names(hosts, names), _colours(hosts, HOST_COLOURS)
    _lines(axes[0], model, [f"debt_to_gdp_{h}" for h in hosts], labels, colours, "Public external debt / GDP", "ratio")
    _lines(axes[1], model, [f"china_debt_share_{h}" for h in hosts], labels, colours, "China's share of that debt",
           "share")  # fmt: skip
    _lines(axes[2], model, [f"debt_service_ratio_{h}" for h in hosts], labels, colours,
           "Debt service / revenue", "ratio")  # fmt: skip
    plot_distress(axes[3], model, names)
    _dates(axes[3], model)
    axes[0].legend(fontsize=8)
    return _finish(fig, "Debt and distress", source, path, marks=marks)


def plot_distress(ax, model: pd.DataFrame, names: Mapping | None = None) -> None:
    """One row per host: a bar over each turn it spends in distress, and the count of those turns."""
    hosts = _ids(model, "debt_to_gdp_")
    colours = dict(zip(hosts, _colours(hosts, HOST_COLOURS), strict=True))
    labels = dict(zip(hosts, _names(hosts, names), strict=True))
    for row, h in enumerate(reversed(hosts)):
        turns = model.loc[model[f"distress_{h}"] > 0, "turn"]
        ax.broken_barh([(t - 0.5, 1.0) for t in turns], (row - 0.35, 0.7), color=colours[h])
    ax.set_yticks(range(len(hosts)))
    ax.set_yticklabels([f"{labels[h]} ({int((model[f'distress_{h}'] > 0).sum())})" for h in reversed(hosts)],
                       fontsize=8)  # fmt: skip
    ax.set_ylim(-0.6, len(hosts) - 0.4)
    ax.set_xlim(model["turn"].iloc[0] - 0.5, model["turn"].iloc[-1] + 0.5)
    ax.set_title("Debt distress: turns with debt service above the threshold (count)", fontsize=10)


def plot_diversification(
    model: pd.DataFrame,
    path: Path,
    source: str | None = None,
    names: Mapping | None = None,
    *,
    marks: Sequence[int] = (),
):
    fig, ax = plt.subplots(figsize=(7, 4.6))
    hosts = _ids(model, "debt_to_gdp_")
    _lines(ax, model, [f"diversification_{h}" for h in hosts], _names(hosts, names),
           _colours(hosts, HOST_COLOURS), "1 = balanced", "0..1")  # fmt: skip
    ax.legend(fontsize=8)
    return _finish(fig, "Supply-chain diversification", source, path, marks=marks)


def plot_routes(model: pd.DataFrame, path: Path, source: str | None = None, *, marks: Sequence[int] = ()):
    """Corridor volumes (solid) and capacities (dashed), and the Middle Corridor's cargo split."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    routes = _ids(model, "route_volume_mt_")
    for r, colour in zip(routes, _colours(routes, ROUTE_COLOURS), strict=True):
        axes[0].plot(model["turn"], model[f"route_volume_mt_{r}"], color=colour, label=f"{r} volume")
        axes[0].plot(model["turn"], model[f"route_capacity_mt_{r}"], color=colour, ls="--", lw=0.8)
    axes[0].set_title("Corridor cargo, Mt/yr (dashed: capacity)", fontsize=10)
    axes[0].legend(fontsize=8)
    _dates(axes[0], model)
    axes[1].plot(model["turn"], model["middle_ca_export_share"], color="#1f77b4")
    axes[1].set_title("Middle Corridor: Central Asian exports' share of cargo (TRIPP)", fontsize=10)
    axes[1].set_ylim(0, 1)
    _dates(axes[1], model)
    return _finish(fig, "Corridors", source, path, marks=marks)


def plot_payoffs(
    model: pd.DataFrame,
    actors: pd.DataFrame,
    path: Path,
    source: str | None = None,
    names: Mapping | None = None,
    *,
    marks: Sequence[int] = (),
):
    """Each power's payoff each turn (a rate per year) and its cumulative payoff in payoff-years
    (payoff times the turn's length in years, summed): ``payoff_total`` of ``actors.csv`` and
    ``summary.json``, the unit of the end-of-game table."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    powers = _ids(model, "spent_usd_bn_")
    labels, colours = _names(powers, names), _colours(powers, POWER_COLOURS)
    _lines(axes[0], model, [f"payoff_{p}" for p in powers], labels, colours,
           "Payoff each turn (accrues payoff x turn length in years)", "payoff per year")  # fmt: skip
    rows = actors[actors["kind"] == "power"]
    cum = rows.pivot(index="turn", columns="actor", values="payoff_total").reset_index()
    cum.insert(1, "date", model["date"].to_numpy())
    _lines(axes[1], cum, powers, labels, colours, "Cumulative payoff (payoff_total)", "payoff-years")
    axes[0].legend(fontsize=8)
    return _finish(fig, "Payoffs of the powers", source, path, marks=marks)


PATH_STYLES = (("#222222", "-"), ("#d62728", "--"), ("#1f77b4", ":"), ("#2ca02c", "-."))  # first: as played


def plot_paths(
    model: pd.DataFrame,
    panels: list[tuple[str, Mapping[str, object]]],
    path,
    title: str,
    source: str | None = None,
    *,
    marks: Sequence[int] = (),
):
    """Paths of one game and its variants compared, a panel each: ``panels`` is a list of (panel
    title, {label: values by turn, one per row of ``model``}); the first series of a panel is drawn
    solid black (the game as played), the others dashed in colour (e.g. a seat played by its AI)."""
    cols = min(2, len(panels))
    rows_n = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(6.5 * cols, 3.8 * rows_n), squeeze=False)
    for ax, (panel, series) in zip(axes.flat, panels, strict=False):
        for (label, values), (colour, style) in zip(series.items(), PATH_STYLES, strict=False):
            ax.plot(model["turn"], values, label=label, color=colour, ls=style)
        ax.set_title(panel, fontsize=10)
        _dates(ax, model)
        ax.legend(fontsize=8)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    return _finish(fig, title, source, path, marks=marks)


def plot_run(
    model: pd.DataFrame,
    actors: pd.DataFrame,
    folder: Path,
    *,
    scenario: str | None = None,
    seed: int | None = None,
    names: Mapping[str, str] | None = None,
    marks: Sequence[int] = (),
) -> list[Path]:
    """Write every figure of a run into ``folder``; returns their paths. ``scenario`` and
    ``seed`` name the game in every figure's title; ``names`` label its actors; ``marks`` shades
    those turns (see the module)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = ", ".join(x for x in (scenario, None if seed is None else f"seed {seed}") if x) or None
    paths = {
        "influence.png": lambda p: plot_influence(model, actors, p, source, names, marks=marks),
        "debt.png": lambda p: plot_debt(model, p, source, names, marks=marks),
        "diversification.png": lambda p: plot_diversification(model, p, source, names, marks=marks),
        "routes.png": lambda p: plot_routes(model, p, source, marks=marks),
        "payoffs.png": lambda p: plot_payoffs(model, actors, p, source, names, marks=marks),
    }
    out = []
    for name, draw in paths.items():
        draw(folder / name)
        out.append(folder / name)
    return out
