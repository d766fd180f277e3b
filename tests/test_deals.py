"""The brief's 2025 deals and licences as scripted events (issue 8, item 7).

The November 2025 C5+1 agreements are US projects in Kazakhstan committed in 2025Q4 (turn 4 of
the baseline) at their sourced sizes; Starlink licences gate satellite-internet offers: before a
host's licence such an offer is refused by ``submit`` (the message names the licence) and left
out of ``legal()``, and no strategy makes one, compiled or not.
"""

from __future__ import annotations

import pytest

from strategy_abm.engine.legality import StrategyError
from strategy_abm.engine.projects import Offer
from strategy_abm.engine.turn import Game
from strategy_abm.scenario.config import ConfigError, load_scenario, validate_scenario

SAT = "satellite_internet"
# The turn from which each host holds its licence (baseline events: Kazakhstan 2025Q3, Tajikistan
# 2025Q4, Uzbekistan and Kyrgyzstan 2026Q3; Turkmenistan never).
LICENSED_FROM = {"kaz": 3, "tjk": 4, "uzb": 7, "kgz": 7, "tkm": 10**6}


def game_at(turn: int, seed: int = 0) -> Game:
    """A baseline game in the offers phase of ``turn`` (its events fired)."""
    game = Game("baseline", seed=seed)
    for _ in range(turn - 1):
        game.play_turn()
    game.legal("us")  # opens the turn: its events fire
    assert game.turn == turn
    return game


def test_the_c5_deals_are_us_projects_in_kazakhstan_in_2025q4():
    """In 2025Q4 the tungsten venture (critical_minerals, USD 1.1 bn) and the AI partnership
    (cloud_ai, USD 3.7 bn) become US projects in Kazakhstan: the US's spending counts their public
    cost (1.1 / 2.5 + 3.7 / 2 = 2.29), which is granted on top of its budget, so its budget left
    is its usual refill (0.5 a quarter, up to 2.0)."""
    game = game_at(3)
    us = game.powers["us"]
    for pid in game.power_ids:  # turn 3 and 4 with no offers: only the deals commit
        game.submit(pid, [])
    game.advance()
    game.advance()
    spent, granted, left = us.ledger.total, us.budget_granted, us.budget_available
    by_move = dict(us.ledger.by_move)
    owed = game.hosts["kaz"].creditors["us"]["debt"]
    game.legal("us")  # turn 4 opens: the deals are signed
    deals = [(p.offer.power, p.offer.move, p.offer.host, p.offer.size_usd_bn) for p in game.projects
             if p.committed_turn == 4]  # fmt: skip
    assert game.date == "2025Q4"
    assert deals == [("us", "critical_minerals", "kaz", 1.1), ("us", "cloud_ai", "kaz", 3.7)]
    assert us.ledger.total - spent == pytest.approx(2.29, abs=1e-12)
    assert us.ledger.by_move["critical_minerals"] - by_move.get("critical_minerals", 0.0) == pytest.approx(1.1)
    assert us.ledger.by_move["cloud_ai"] - by_move.get("cloud_ai", 0.0) == pytest.approx(3.7)
    assert us.budget_available == pytest.approx(min(left + 0.5, 2.0), abs=1e-12)
    assert us.budget_granted - granted == pytest.approx(2.29 + us.budget_available - left, abs=1e-12)
    # Kazakhstan owes the US the loan part of both (debt_fraction 0.2 each).
    assert game.hosts["kaz"].creditors["us"]["debt"] - owed == pytest.approx(0.2 * (1.1 + 3.7), abs=1e-12)


def test_a_satellite_offer_before_the_licence_is_refused_and_not_legal():
    game = game_at(4)  # 2025Q4: Kazakhstan and Tajikistan licensed, Uzbekistan not
    assert set(game.legal("us")["moves"][SAT]["targets"]) == {"kaz", "tjk"}
    with pytest.raises(StrategyError, match=r"satellite_internet needs a satellite licence in uzb.*satellite_licence"):
        game.submit("us", [Offer("us", SAT, "uzb", 0.1)])
    game.submit("us", [Offer("us", SAT, "kaz", 0.1)])  # legal where the licence is held


def test_a_satellite_offer_after_the_licence_is_legal():
    game = game_at(7)  # 2026Q3: Uzbekistan's and Kyrgyzstan's licences
    assert game.date == "2026Q3"
    assert set(game.legal("us")["moves"][SAT]["targets"]) == {"kaz", "uzb", "kgz", "tjk"}
    game.submit("us", [Offer("us", SAT, "uzb", 0.1)])


@pytest.mark.parametrize("strategy", ["pgii_asymmetric", "random", "greedy"])
def test_no_strategy_offers_satellite_internet_before_the_licence(strategy, recorded):
    """Every US satellite offer goes to a host that holds its licence that turn, whichever strategy
    decides (their kernels and their Python code; the games are checked by submit's rules too)."""
    _, rec = recorded((f"powers.us.strategy={strategy}",), turns=12)
    made = [(turn, o.host) for turn, power, _, offers in rec.offers if power == "us" for o in offers
            if o.move == SAT]  # fmt: skip
    assert all(turn >= LICENSED_FROM[host] for turn, host in made), made
    if strategy == "pgii_asymmetric":
        assert made, "PGII offers satellite internet once hosts are licensed"


def _with_event(**project) -> dict:
    raw = load_scenario("baseline").model_dump(mode="python")
    deal = {"power": "us", "move": "cloud_ai", "host": "kaz", "size_usd_bn": 1.0, **project}
    raw["events"] = [{"name": "deal", "text": "a deal", "at": "2025Q2", "projects": [deal], "source": "STATE_KZ"}]
    return raw


@pytest.mark.parametrize(
    ("project", "message"),
    [
        ({"move": "policy_bank_loan"}, "events.0.projects.0.move: 'policy_bank_loan' is not in the toolkit of us"),
        ({"host": "afg"}, "events.0.projects.0.host: 'afg' is not a host id"),
        ({"power": "india"}, "events.0.projects.0.power: 'india' is not a power id"),
        ({"size_usd_bn": 5000.0}, "events.0.projects.0.size_usd_bn"),
    ],
)
def test_a_deal_names_a_power_a_move_of_its_toolkit_a_host_and_a_bounded_size(project, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        validate_scenario(_with_event(**project))


def test_a_deal_is_signed_at_a_date_and_never_undone():
    raw = _with_event()
    raw["events"][0]["duration_turns"] = 2
    with pytest.raises(ConfigError, match="projects are for scripted events"):
        validate_scenario(raw)
    validate_scenario(_with_event())  # the same deal, scripted and permanent, validates
    # beyond the move's own size bounds too: they bound what strategies offer, not a sourced deal
    validate_scenario(_with_event(size_usd_bn=5.0))
