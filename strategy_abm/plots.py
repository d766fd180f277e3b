"""Figures of one game, drawn from its output frames (so a saved run can be re-plotted)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .ids import HOSTS, NAMES, POWERS, ROUTES  # noqa: E402

POWER_COLOURS = {"china": "#d62728", "us": "#1f77b4", "g7": "#17becf", "russia": "#7f7f7f"}
HOST_COLOURS = {"kaz": "#1b9e77", "uzb": "#d95f02", "kgz": "#7570b3", "tjk": "#e7298a", "tkm": "#66a61e"}


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


def plot_influence(model: pd.DataFrame, actors: pd.DataFrame, path: Path) -> None:
    """Regional influence shares and each host's influence shares over time."""
    fig, axes = plt.subplots(2, 3, figsize=(13, 7), sharey=True)
    ax = axes[0, 0]
    ax.stackplot(model["turn"], *(model[f"influence_{p}"] for p in POWERS), labels=[NAMES[p] for p in POWERS],
                 colors=[POWER_COLOURS[p] for p in POWERS], alpha=0.85)  # fmt: skip
    ax.set_title("Region (GDP-weighted)", fontsize=10)
    ax.set_ylabel("influence share")
    _dates(ax, model)
    ax.legend(loc="lower left", fontsize=8)
    for ax, h in zip(axes.flat[1:], HOSTS, strict=True):
        rows = actors[actors["actor"] == h]
        ax.stackplot(rows["turn"], *(rows[f"influence_share_{p}"] for p in POWERS),
                     colors=[POWER_COLOURS[p] for p in POWERS], alpha=0.85)  # fmt: skip
        ax.set_title(NAMES[h], fontsize=10)
        _dates(ax, model)
    for ax in axes.flat:
        ax.set_ylim(0, 1)
    fig.suptitle("Influence shares by power")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_debt(model: pd.DataFrame, path: Path) -> None:
    """Public external debt / GDP, China's share of it, and the debt-service ratio."""
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    names = [NAMES[h] for h in HOSTS]
    colours = [HOST_COLOURS[h] for h in HOSTS]
    _lines(axes[0], model, [f"debt_to_gdp_{h}" for h in HOSTS], names, colours, "Public external debt / GDP", "ratio")
    _lines(axes[1], model, [f"china_debt_share_{h}" for h in HOSTS], names, colours, "China's share of that debt",
           "share")  # fmt: skip
    _lines(axes[2], model, [f"debt_service_ratio_{h}" for h in HOSTS], names, colours,
           "Debt service / revenue (shaded: distress)", "ratio")  # fmt: skip
    for h in HOSTS:
        distress = model[f"distress_{h}"] > 0
        if distress.any():
            axes[2].fill_between(model["turn"], 0, model[f"debt_service_ratio_{h}"], where=distress,
                                 color=HOST_COLOURS[h], alpha=0.2)  # fmt: skip
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_diversification(model: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.2))
    _lines(ax, model, [f"diversification_{h}" for h in HOSTS], [NAMES[h] for h in HOSTS],
           [HOST_COLOURS[h] for h in HOSTS], "Supply-chain diversification (1 = balanced)", "0..1")  # fmt: skip
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_routes(model: pd.DataFrame, path: Path) -> None:
    """Corridor volumes (solid) and capacities (dashed), and the Middle Corridor's cargo split."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    colours = {"northern": "#7f7f7f", "middle": "#1f77b4", "southern": "#ff7f0e"}
    for r in ROUTES:
        axes[0].plot(model["turn"], model[f"route_volume_mt_{r}"], color=colours[r], label=f"{r} volume")
        axes[0].plot(model["turn"], model[f"route_capacity_mt_{r}"], color=colours[r], ls="--", lw=0.8)
    axes[0].set_title("Corridor cargo, Mt/yr (dashed: capacity)", fontsize=10)
    axes[0].legend(fontsize=8)
    _dates(axes[0], model)
    axes[1].plot(model["turn"], model["middle_ca_export_share"], color="#1f77b4")
    axes[1].set_title("Middle Corridor: Central Asian exports' share of cargo (TRIPP)", fontsize=10)
    axes[1].set_ylim(0, 1)
    _dates(axes[1], model)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_payoffs(model: pd.DataFrame, path: Path) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    names = [NAMES[p] for p in POWERS]
    colours = [POWER_COLOURS[p] for p in POWERS]
    _lines(axes[0], model, [f"payoff_{p}" for p in POWERS], names, colours, "Payoff per turn", "payoff")
    cum = model.copy()
    for p in POWERS:
        cum[f"payoff_{p}"] = model[f"payoff_{p}"].where(model["turn"] > 0, 0.0).cumsum()
    _lines(axes[1], cum, [f"payoff_{p}" for p in POWERS], names, colours, "Cumulative payoff", "payoff")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_run(model: pd.DataFrame, actors: pd.DataFrame, folder: Path) -> list[Path]:
    """Write every figure of a run into ``folder``; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "influence.png": lambda p: plot_influence(model, actors, p),
        "debt.png": lambda p: plot_debt(model, p),
        "diversification.png": lambda p: plot_diversification(model, p),
        "routes.png": lambda p: plot_routes(model, p),
        "payoffs.png": lambda p: plot_payoffs(model, p),
    }
    out = []
    for name, draw in paths.items():
        draw(folder / name)
        out.append(folder / name)
    return out
