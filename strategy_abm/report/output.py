"""A game's outputs as pandas frames and as files a researcher can analyse.

``write_run`` writes ``model.csv``, ``actors.csv``, ``events.csv``, ``summary.json``,
``config.toml``, ``plots/`` and the ``.strategy-abm-run`` marker into a fresh temporary folder
beside the target and renames it into place only when everything is written, so a failed run
never leaves a partial folder and never half-overwrites an earlier one. Only an empty folder, or
a run folder holding nothing but the files its run wrote (which its marker lists), is ever
replaced: a file or folder the user added to a run folder makes it refused, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
from pathlib import Path

import mesa
import pandas as pd

from ..engine.metrics import metric_columns
from ..scenario.config import scenario_to_toml
from ..sim.agents import HostAgent, PowerAgent
from .folders import (
    check_target,
    written_whole,
)

EVENT_COLUMNS = ["turn", "date", "actor", "target", "domain", "move", "size_usd_bn", "status", "text"]


def model_frame(model) -> pd.DataFrame:
    """One row per turn from turn 0: ``turn``, ``date`` and the metric columns of the scenario
    (:func:`~strategy_abm.engine.metrics.metric_columns`)."""
    df = model.datacollector.get_model_vars_dataframe().reset_index(drop=True)
    df.insert(0, "date", [model.date_of(t) for t in range(len(df))])
    df.insert(0, "turn", range(len(df)))
    return df[["turn", "date", *metric_columns(model.scenario)]]


def actors_frame(model) -> pd.DataFrame:
    """One row per actor per turn: ``turn``, ``actor``, ``kind``, then that actor's state (actors in
    the scenario's order, powers then hosts)."""
    dc = model.datacollector
    parts = []
    for cls in (PowerAgent, HostAgent):
        collected = dc.get_agenttype_vars_dataframe(cls).reset_index()
        states = pd.DataFrame(list(collected["state"]))
        states.insert(0, "turn", collected["Step"].to_numpy())
        parts.append(states)
    df = pd.concat(parts, ignore_index=True)
    order = {a: i for i, a in enumerate(model.scenario.actor_ids)}
    df = df.sort_values(["turn", "actor"], key=lambda s: s.map(order) if s.name == "actor" else s)
    first = ["turn", "actor", "kind"]
    return df[first + [c for c in df.columns if c not in first]].reset_index(drop=True)


def events_frame(model) -> pd.DataFrame:
    """One row per offer, response, completion, failure, distress and event."""
    return pd.DataFrame(model.event_log, columns=EVENT_COLUMNS)


def summary(model) -> dict:
    """Final metrics and what exactly was run."""
    from .._version import __version__

    resolved = scenario_to_toml(model.scenario)
    return {
        "scenario": model.scenario.name,
        "seed": model.seed,
        "turns": model.turn,
        "start": model.scenario.start,
        "end": model.date,
        "package_version": __version__,
        "mesa_version": mesa.__version__,
        "python_version": platform.python_version(),
        "config_sha256": hashlib.sha256(resolved.encode()).hexdigest(),
        "final": {k: float(v) for k, v in model.metrics.items()},
        "powers": {
            p: {
                "payoff_total": a.payoff_total,
                "spent_usd_bn": a.ledger.total,
                "private_mobilised_usd_bn": a.ledger.private_mobilised,
                "offers_made": a.offers_made,
                "offers_accepted": a.offers_accepted,
                "spent_by_domain_usd_bn": dict(sorted(a.ledger.by_domain.items())),
            }
            for p, a in model.powers.items()
        },
        "hosts": {
            h: {"payoff_total": a.payoff_total, "distress_turns": a.distress_turns, "jobs_created_k": a.jobs_created_k}
            for h, a in model.hosts.items()
        },
    }


def check_out_dir(out: Path) -> None:
    """Refuse, before any work, an ``--out`` a run cannot be written to: see
    :func:`folders.check_target` (a folder is replaced only if it is empty or a run folder
    holding nothing but its run's files).

    Raises:
        OutputError: with a one-line message naming ``--out`` and the problem.
    """
    check_target(Path(out), "run")


def write_run(model, out: str | os.PathLike, *, plots: bool = True) -> Path:
    """Write every output of a finished game to ``out`` (replacing an earlier run there).

    The files are written to a fresh temporary folder beside ``out`` and moved into place when
    complete; an earlier run there is moved into a fresh backup folder first and deleted only
    once the new one is in place. The program deletes only the temporary folders it made.

    Raises:
        OutputError: ``out`` cannot hold a run (see :func:`check_out_dir`).
        FaultError: writing failed part-way (disk full, read-only folder): the earlier run is
            unchanged and no temporary folder is left.
    """
    out = Path(out)
    check_out_dir(out)
    with written_whole(out, "run", "run", check_out_dir) as tmp:
        mdf = model_frame(model)
        mdf.to_csv(tmp / "model.csv", index=False)
        adf = actors_frame(model)
        adf.to_csv(tmp / "actors.csv", index=False)
        events_frame(model).to_csv(tmp / "events.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(summary(model), indent=2, sort_keys=False) + "\n")
        header = (
            f"# Fully resolved scenario of this run (seed {model.seed}).\n"
            f"# Re-run: strategy-abm run {shlex.quote(str(out / 'config.toml'))} --seed {model.seed}\n"
        )
        (tmp / "config.toml").write_text(header + scenario_to_toml(model.scenario))
        if plots:
            from .plots import plot_run

            plot_run(
                mdf,
                adf,
                tmp / "plots",
                scenario=model.scenario.name,
                seed=model.seed,
                names=model.scenario.display_names(),
            )
    return out
