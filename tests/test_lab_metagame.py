"""The meta-game analysis (strategy_abm/lab/metagame.py) on small games with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from strategy_abm.lab.metagame import MetaGame


def _pd() -> MetaGame:
    """Prisoner's dilemma: cooperate (c) or defect (d); row role "a", column role "b"."""
    a = np.array([[3.0, 0.0], [5.0, 1.0]])
    return MetaGame(("a", "b"), {"a": ("c", "d"), "b": ("c", "d")}, {"a": a, "b": a.T})


def test_a_metagame_keeps_its_tensors_read_only_and_names_profiles():
    game = _pd()
    assert game.shape == (2, 2) and game.n_seeds == 0
    assert game.payoffs["a"].dtype == np.float64
    with pytest.raises(ValueError):
        game.payoffs["a"][0, 0] = 9.0
    assert game.profile({"a": "d", "b": "c"}) == (1, 0)
    assert game.payoff_array().shape == (2, 2, 2)
    assert game.payoff_array()[1, 1, 0] == 0.0  # b cooperates while a defects: the sucker's payoff
    with pytest.raises(ValueError, match=r"profile\.b: 'x' is not one of"):
        game.profile({"a": "d", "b": "x"})


def test_samples_give_the_seed_count():
    rng = np.random.default_rng(0)
    s = {"a": rng.normal(size=(2, 3, 4)), "b": rng.normal(size=(2, 3, 4))}
    game = MetaGame(("a", "b"), {"a": ("x", "y"), "b": ("p", "q", "r")}, {r: v.mean(-1) for r, v in s.items()}, s)
    assert game.n_seeds == 4 and game.samples["b"].shape == (2, 3, 4)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"roles": ()}, r"^roles: at least one role"),
        ({"roles": ("a", "a")}, r"^roles: repeated role"),
        ({"strategies": {"a": ("c", "d")}}, r"^strategies: keys must be the roles \(missing \['b'\]"),
        ({"strategies": {"a": ("c", "c"), "b": ("c", "d")}}, r"^strategies\.a: repeated label"),
        ({"strategies": {"a": (), "b": ("c", "d")}}, r"^strategies\.a: at least one strategy"),
        ({"payoffs": {"a": np.zeros((2, 2)), "b": np.zeros((2, 3))}}, r"^payoffs\.b: shape \(2, 3\) does not match"),
        (
            {"payoffs": {"a": np.zeros((2, 2)), "b": np.full((2, 2), np.nan)}},
            r"^payoffs\.b: 4 value\(s\) are not finite",
        ),
        ({"payoffs": {"a": np.zeros((2, 2)), "c": np.zeros((2, 2))}}, r"^payoffs: keys must be the roles"),
        ({"samples": {"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}}, r"^samples\.a: shape \(2, 2\) is not"),
        ({"samples": {"a": np.zeros((2, 2, 3)), "b": np.zeros((2, 2, 4))}}, r"^samples\.b: shape \(2, 2, 4\) does not"),
        ({"samples": {"a": np.zeros((2, 2, 0)), "b": np.zeros((2, 2, 0))}}, r"^samples\.a: at least one seed"),
        ({"samples": {"a": np.ones((2, 2, 1)), "b": np.full((2, 2, 1), np.inf)}}, r"^samples\.b: 4 value"),
    ],
)
def test_a_malformed_metagame_is_refused_with_the_field_named(change, message):
    fields = {"roles": ("a", "b"), "strategies": {"a": ("c", "d"), "b": ("c", "d")}}
    fields["payoffs"] = {"a": np.zeros((2, 2)), "b": np.zeros((2, 2))}
    fields.update(change)
    with pytest.raises(ValueError, match=message):
        MetaGame(**fields)
