"""The meta-game analysis (strategy_abm/lab/metagame.py) on small games with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from strategy_abm.lab.metagame import (
    Deviation,
    MetaGame,
    alpharank,
    approximate_equilibrium,
    best_deviations,
    bimatrix_equilibria,
    bootstrap,
    fixation_probability,
    mixed_regret,
    payoff_intervals,
    plot_alpharank,
    plot_payoff_heatmap,
    plot_replicator,
    pure_equilibria,
    regret,
    regrets,
    replicator,
    slice_game,
    strategy_values,
)


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


# --- small games with known answers ---------------------------------------------------------------


def _two(a, b) -> MetaGame:
    """Bimatrix game: role "a" picks the row (strategies r0, r1, ...), role "b" the column."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    labels = {"a": tuple(f"r{i}" for i in range(a.shape[0])), "b": tuple(f"c{j}" for j in range(a.shape[1]))}
    return MetaGame(("a", "b"), labels, {"a": a, "b": b})


PENNIES = _two([[1, -1], [-1, 1]], [[-1, 1], [1, -1]])
BATTLE = _two([[3, 0], [0, 2]], [[2, 0], [0, 3]])  # a prefers (r0, c0), b prefers (r1, c1)
RPS = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]], dtype=float)  # row: rock, paper, scissors
ROCK_PAPER_SCISSORS = _two(RPS, -RPS)


def _dominant_three_roles() -> tuple[MetaGame, tuple[int, int, int]]:
    """Three roles with 2, 3 and 2 strategies; role k gets a bonus of 2 for its dominant strategy
    on top of random payoffs in [0, 1), so that strategy beats every other whatever the rest play."""
    rng = np.random.default_rng(7)
    shape, dominant = (2, 3, 2), (1, 0, 1)
    roles = ("china", "us", "russia")
    payoffs = {}
    for k, role in enumerate(roles):
        table = rng.random(shape)
        idx = [slice(None)] * 3
        idx[k] = dominant[k]
        table[tuple(idx)] += 2.0
        payoffs[role] = table
    labels = {r: tuple(f"{r}_{i}" for i in range(n)) for r, n in zip(roles, shape, strict=True)}
    return MetaGame(roles, labels, payoffs), dominant


def test_regret_and_best_deviations_in_the_prisoners_dilemma():
    game = _pd()
    assert regret(game, (1, 1)) == 0.0
    assert regret(game, {"a": "c", "b": "c"}) == 2.0  # either role gains 5 - 3 by defecting
    devs = best_deviations(game, (0, 1))  # a cooperates, b defects
    assert devs["a"] == Deviation("a", "d", 1.0)  # sucker's 0 -> mutual defection's 1
    assert devs["b"] == Deviation("b", "d", 0.0)  # b already plays its best response
    np.testing.assert_array_equal(regrets(game), [[2.0, 1.0], [1.0, 0.0]])
    assert pure_equilibria(game) == [{"a": "d", "b": "d"}]
    with pytest.raises(ValueError, match=r"^profile\.b: index 2 is outside 0\.\.1"):
        regret(game, (0, 2))


def test_the_prisoners_dilemma_has_mutual_defection_as_its_only_equilibrium():
    (eq,) = bimatrix_equilibria(_pd())
    np.testing.assert_array_equal(eq.mix["a"], [0.0, 1.0])
    np.testing.assert_array_equal(eq.mix["b"], [0.0, 1.0])
    assert eq.values == {"a": 1.0, "b": 1.0} and eq.regret == 0.0


def test_matching_pennies_has_the_one_mixed_equilibrium_half_half():
    (eq,) = bimatrix_equilibria(PENNIES)
    np.testing.assert_allclose(eq.mix["a"], [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(eq.mix["b"], [0.5, 0.5], atol=1e-12)
    assert pure_equilibria(PENNIES) == []


def test_battle_of_the_sexes_has_two_pure_equilibria_and_the_mixed_one():
    eqs = bimatrix_equilibria(BATTLE)
    assert len(eqs) == 3
    mixes = [(tuple(e.mix["a"]), tuple(e.mix["b"])) for e in eqs]
    assert mixes[:2] == [((1.0, 0.0), (1.0, 0.0)), ((0.0, 1.0), (0.0, 1.0))]
    # Mixed: a plays r0 with p so that b is indifferent, 2p = 3(1 - p) -> p = 3/5; b plays c0 with
    # q so that a is indifferent, 3q = 2(1 - q) -> q = 2/5. Both then expect 6/5.
    np.testing.assert_allclose(mixes[2][0], (0.6, 0.4), atol=1e-12)
    np.testing.assert_allclose(mixes[2][1], (0.4, 0.6), atol=1e-12)
    assert eqs[2].values == pytest.approx({"a": 1.2, "b": 1.2})


def test_a_slice_of_a_three_role_game_is_solved_exactly():
    game, dominant = _dominant_three_roles()
    sub = slice_game(game, ("russia", "china"), {"us": "us_0"})
    assert sub.roles == ("russia", "china") and sub.shape == (2, 2)
    assert sub.payoffs["china"][0, 1] == game.payoffs["china"][1, 0, 0]  # russia 0, china 1, us 0
    (eq,) = bimatrix_equilibria(sub)
    np.testing.assert_array_equal(eq.mix["china"], [0.0, 1.0])
    np.testing.assert_array_equal(eq.mix["russia"], [0.0, 1.0])
    with pytest.raises(ValueError, match=r"^fixed: give a strategy for exactly the roles \['us'\]"):
        slice_game(game, ("russia", "china"), {})
    with pytest.raises(ValueError, match=r"^game: support enumeration needs exactly two roles, got 3"):
        bimatrix_equilibria(game)


def test_a_dominant_strategy_per_role_has_zero_regret_and_attracts_the_replicator():
    game, dominant = _dominant_three_roles()
    table = regrets(game)
    assert table[dominant] == 0.0
    others = np.ones(game.shape, dtype=bool)
    others[dominant] = False
    assert np.all(table[others] > 0.0)
    assert regret(game, dominant) == 0.0
    trajectory = replicator(game, steps=400, dt=0.05)
    assert trajectory["us"].shape == (401, 3)
    np.testing.assert_allclose(trajectory["us"][0], [1 / 3, 1 / 3, 1 / 3])
    for k, role in enumerate(game.roles):
        assert trajectory[role][-1][dominant[k]] > 0.999
    eq = approximate_equilibrium(game, steps=400, dt=0.05)
    assert eq.regret < 1e-3
    rm = approximate_equilibrium(game, method="regret_matching", steps=2000)
    assert all(rm.mix[r][dominant[k]] > 0.99 for k, r in enumerate(game.roles)) and rm.regret < 0.02


def test_rock_paper_scissors_replicator_cycles_and_conserves_the_product_of_shares():
    """Zero-sum bimatrix game with the interior equilibrium (1/3, 1/3, 1/3) for both roles: the sum of
    (1/3) log of all shares is a constant of motion (Hofbauer and Sigmund 1998, 11.2), so the product
    x_1 x_2 x_3 y_1 y_2 y_3 stays put and the orbit neither converges nor spirals out."""
    start = {"a": np.array([0.5, 0.3, 0.2]), "b": np.array([0.2, 0.3, 0.5])}
    trajectory = replicator(ROCK_PAPER_SCISSORS, start, steps=1500, dt=0.01)
    product = trajectory["a"].prod(axis=1) * trajectory["b"].prod(axis=1)
    np.testing.assert_allclose(product, product[0], rtol=1e-6)
    # It cycles: rock's share goes round, up and down, and does not settle.
    rock = trajectory["a"][:, 0]
    assert rock.max() - rock.min() > 0.2
    assert np.abs(trajectory["a"][-1] - 1 / 3).max() > 0.05


def test_regret_matching_finds_the_mixed_equilibrium_of_a_skewed_matching_pennies():
    """a wins 2 instead of 1 on (r0, c0). b's mix q on c0 makes a indifferent: 2q - (1 - q) =
    -q + (1 - q), so q = 2/5; b's payoffs are unchanged, so a's mix stays (1/2, 1/2)."""
    skew = _two([[2, -1], [-1, 1]], [[-1, 1], [1, -1]])
    eq = approximate_equilibrium(skew, method="regret_matching", steps=4000)
    np.testing.assert_allclose(eq.mix["a"], [0.5, 0.5], atol=0.02)
    np.testing.assert_allclose(eq.mix["b"], [0.4, 0.6], atol=0.02)
    assert eq.regret < 0.03
    (exact,) = bimatrix_equilibria(skew)
    np.testing.assert_allclose(exact.mix["a"], [0.5, 0.5], atol=1e-12)
    np.testing.assert_allclose(exact.mix["b"], [0.4, 0.6], atol=1e-12)


def test_mixed_regret_and_strategy_values_in_matching_pennies():
    half = {"a": np.array([0.5, 0.5]), "b": np.array([0.5, 0.5])}
    assert mixed_regret(PENNIES, half) == {"a": 0.0, "b": 0.0}
    pure = {"a": np.array([1.0, 0.0]), "b": np.array([1.0, 0.0])}  # a matches and wins 1; b loses 1
    assert mixed_regret(PENNIES, pure) == {"a": 0.0, "b": 2.0}  # b switching to c1 wins 1 instead
    values = strategy_values(PENNIES, {"a": np.array([0.25, 0.75]), "b": np.array([1.0, 0.0])})
    np.testing.assert_allclose(values["a"], [1.0, -1.0])  # against c0 for sure
    np.testing.assert_allclose(values["b"], [0.25 * -1 + 0.75 * 1, 0.25 * 1 + 0.75 * -1])
    with pytest.raises(ValueError, match=r"^mix\.a: not a probability vector"):
        mixed_regret(PENNIES, {"a": np.array([0.7, 0.7]), "b": np.array([1.0, 0.0])})
    with pytest.raises(ValueError, match=r"^mix\.b: shape \(3,\) is not \(2,\)"):
        strategy_values(PENNIES, {"a": np.array([1.0, 0.0]), "b": np.ones(3) / 3})
    with pytest.raises(ValueError, match=r"^dt: must be a positive number"):
        replicator(PENNIES, dt=0.0)
    with pytest.raises(ValueError, match=r"^method: 'fictitious' is not"):
        approximate_equilibrium(PENNIES, method="fictitious")


# --- alpha-rank -----------------------------------------------------------------------------------


def test_alpharank_of_the_prisoners_dilemma_by_hand():
    """Two roles, two strategies each: the chain is the 4-cycle CC - CD - DD - DC - CC (one role
    mutates at a time, eta = 1/2). With rho(x) the fixation probability of a mutant gaining x,

        rho(x) = (1 - e^(-alpha x)) / (1 - e^(-m alpha x)),   and so rho(-x) / rho(x) = e^(-(m-1) alpha x).

    Gains: CC -> DC or CD: +2 (5 - 3); CD -> CC: -2 (b: 3 - 5); CD -> DD: +1 (a: 1 - 0);
    DD -> CD or DC: -1. By symmetry pi(CD) = pi(DC) = p. Balance at CC: pi(CC) * 2 rho(2) =
    2 p rho(-2), so pi(CC) = p e^(-2 (m-1) alpha); at DD: pi(DD) * 2 rho(-1) = 2 p rho(1), so
    pi(DD) = p e^((m-1) alpha). Hence pi is proportional to (e^(-2 (m-1) alpha), 1, 1, e^((m-1) alpha))
    over (CC, CD, DC, DD). With alpha = 0.1 and m = 5: (e^-0.8, 1, 1, e^0.4) / sum."""
    result = alpharank(_pd(), alpha=0.1, m=5)
    weights = np.array([np.exp(-0.8), 1.0, 1.0, np.exp(0.4)])
    np.testing.assert_allclose(result.stationary, weights / weights.sum(), rtol=1e-12)
    assert result.profiles == ((0, 0), (0, 1), (1, 0), (1, 1))
    np.testing.assert_allclose(result.transitions.sum(axis=1), 1.0)
    assert result.transitions[0, 3] == 0.0  # two roles never switch at once
    assert result.transitions[0, 2] == pytest.approx(0.5 * fixation_probability(2.0, 0.1, 5))
    np.testing.assert_allclose(result.marginals["a"], [weights[:2].sum(), weights[2:].sum()] / weights.sum())
    assert result.rankings == {"a": ("d", "c"), "b": ("d", "c")}


def test_alpharank_concentrates_on_mutual_defection_for_large_alpha():
    masses = [alpharank(_pd(), alpha=a, m=50).mass((1, 1)) for a in (0.01, 0.1, 1.0, 100.0)]
    assert masses == sorted(masses) and masses[0] < 0.5
    assert masses[-1] == pytest.approx(1.0, abs=1e-12)


def test_alpharank_splits_the_battle_of_the_sexes_evenly_between_its_strict_equilibria():
    """Swapping the roles and the strategies maps the game onto itself, (r0, c0) onto (r1, c1), so
    both equilibria get the same mass. Their exits have probabilities near e^(-2 (m-1) alpha) =
    e^-98 here: an eigen-solver sees eigenvalue 1 twice and returns one of them; state reduction
    keeps the tiny numbers exact enough."""
    result = alpharank(BATTLE, alpha=1.0, m=50)
    assert result.mass((0, 0)) == pytest.approx(0.5, rel=1e-9) and result.mass((1, 1)) == pytest.approx(0.5, rel=1e-9)
    with pytest.raises(ValueError, match=r"^alpha: the chain has 2 closed classes"):
        alpharank(BATTLE, alpha=10.0, m=50)  # exits underflow to 0: no unique answer left


@pytest.mark.parametrize("game", [PENNIES, ROCK_PAPER_SCISSORS], ids=["pennies", "rps"])
def test_alpharank_is_uniform_on_cyclic_games(game):
    result = alpharank(game, alpha=5.0, m=20)
    n = len(result.profiles)
    np.testing.assert_allclose(result.stationary, np.full(n, 1 / n), atol=1e-12)
    for role in game.roles:
        np.testing.assert_allclose(result.marginals[role], 1 / game.shape[0], atol=1e-12)


def test_alpharank_ranks_the_dominant_strategies_first_in_a_three_role_game():
    game, dominant = _dominant_three_roles()
    result = alpharank(game, alpha=10.0, m=50)
    assert result.mass(dominant) > 0.99
    for k, role in enumerate(game.roles):
        assert result.rankings[role][0] == game.strategies[role][dominant[k]]


def test_fixation_probability_is_stable_and_neutral_at_zero():
    rho = fixation_probability(np.array([-1e6, -1.0, 0.0, 1.0, 1e6]), alpha=1.0, m=10)
    assert np.all(np.isfinite(rho))
    assert rho[2] == 0.1 and rho[0] == 0.0 and rho[4] == 1.0
    assert rho[1] / rho[3] == pytest.approx(np.exp(-9.0))
    with pytest.raises(ValueError, match=r"^m: the population size must be an integer >= 2"):
        alpharank(_pd(), m=1)
    with pytest.raises(ValueError, match=r"^alpha: must be a finite number >= 0"):
        alpharank(_pd(), alpha=-1.0)


def test_alpharank_agrees_with_open_spiel():
    spiel = pytest.importorskip("open_spiel.python.egt.alpharank")
    rng = np.random.default_rng(1)
    for shape in [(2, 2), (3, 4), (2, 3, 2)]:
        roles = ("a", "b", "c")[: len(shape)]
        payoffs = {r: rng.normal(size=shape) for r in roles}
        labels = {r: tuple(f"s{i}" for i in range(n)) for r, n in zip(roles, shape, strict=True)}
        game = MetaGame(roles, labels, payoffs)
        for alpha, m in [(0.5, 10), (5.0, 50)]:
            theirs = spiel.compute([payoffs[r] for r in roles], m=m, alpha=alpha)[2]
            np.testing.assert_allclose(alpharank(game, alpha=alpha, m=m).stationary, theirs, atol=1e-10)


# --- bootstrap and plots --------------------------------------------------------------------------


def _noisy_pd(seeds: int = 40) -> MetaGame:
    rng = np.random.default_rng(3)
    base = _pd()
    samples = {r: base.payoffs[r][..., None] + rng.normal(0.0, 0.5, size=(2, 2, seeds)) for r in base.roles}
    return MetaGame(base.roles, base.strategies, {r: s.mean(-1) for r, s in samples.items()}, samples)


def test_bootstrap_intervals_cover_the_seed_mean_and_are_reproducible():
    game = _noisy_pd()
    intervals = payoff_intervals(game, n_boot=400, seed=1)
    a = intervals["a"]
    assert a.estimate.shape == (2, 2) and a.level == 0.95
    np.testing.assert_allclose(a.estimate, game.payoffs["a"])
    assert np.all(a.low < a.estimate) and np.all(a.estimate < a.high)
    # Width near 2 x 1.96 x 0.5 / sqrt(40) = 0.31 (the noise's standard error).
    assert np.all(np.abs((a.high - a.low) - 0.31) < 0.1)
    again = payoff_intervals(game, n_boot=400, seed=1)["a"]
    np.testing.assert_array_equal(again.low, a.low)
    # Any statistic of the game: the regret of mutual cooperation (2 in the noiseless game).
    cc = bootstrap(game, lambda g: regret(g, (0, 0)), n_boot=200, seed=2)
    assert cc.low < 2.0 < cc.high and cc.estimate.shape == ()
    with pytest.raises(ValueError, match=r"^samples: the game has no per-seed payoffs"):
        payoff_intervals(_pd())


def test_plots_are_written(tmp_path):
    game, _ = _dominant_three_roles()
    fig = plot_payoff_heatmap(game, "us", "us", "china", {"russia": "russia_1"}, path=tmp_path / "heat.png")
    assert (tmp_path / "heat.png").stat().st_size > 0
    shown = fig.axes[0].images[0].get_array()
    np.testing.assert_array_equal(shown, game.payoffs["us"][:, :, 1].T)  # rows: us, columns: china
    plot_alpharank(alpharank(game), path=tmp_path / "rank.png")
    plot_replicator(game, replicator(game, steps=50), path=tmp_path / "rep.png")
    assert (tmp_path / "rank.png").stat().st_size > 0 and (tmp_path / "rep.png").stat().st_size > 0
    with pytest.raises(ValueError, match=r"^trajectory\.china: expected shape"):
        plot_replicator(game, {"china": np.zeros((3, 5))})


def test_the_baseline_example_plays_real_games_and_writes_its_figures(tmp_path, capsys):
    """docs/examples/metagame_baseline.py on one seed: 9 real games of the baseline, the analysis
    printed and the three figures written into the chosen folder, nothing else."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "examples" / "metagame_baseline.py"
    spec = importlib.util.spec_from_file_location("metagame_baseline", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    game = example.play(1, china=("bri_2", "greedy"), us=("pgii_asymmetric", "greedy"))
    assert game.shape == (2, 2) and game.n_seeds == 1
    assert np.all(game.payoffs["china"] > 0)  # payoff-years summed over the horizon
    again = example.play(1, china=("bri_2", "greedy"), us=("pgii_asymmetric", "greedy"))
    np.testing.assert_array_equal(again.payoffs["us"], game.payoffs["us"])  # same seeds, same games
    assert example.main([str(tmp_path), "--seeds", "1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "metagame_alpharank.png",
        "metagame_replicator.png",
        "metagame_us_payoff.png",
    ]
    assert "equilibrium {'china':" in capsys.readouterr().out
    assert example.main([str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("out: ")
