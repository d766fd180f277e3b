"""Shared by the classroom's tests: a game played as a room plays it, recorded."""

from __future__ import annotations

import json

from strategy_abm.classroom.record import accepted_items, dumps, new_record, offer_items, replay, validate_record


def play_record(seed: int, humans: dict, *, turns: int = 4, inject=None) -> tuple[dict, object]:
    """Play a game as a room does: ``humans`` maps a seat to ``choose(game, seat) -> decision``,
    submitted for it; everyone else is AI. ``inject``: turn -> [(event, target)]. Returns the
    record and the play (a Replay driven live)."""
    record = new_record("baseline", seed=seed, overrides={"horizon_turns": str(turns)})
    play = replay(record)
    game = play.game
    while not game.over:
        game.waiting()
        entry = {"turn": game.turn, "injected": []}
        record["turns"].append(entry)
        for event, target in (inject or {}).get(game.turn, []):
            game.inject(event, target)
            entry["injected"].append({"event": event, "target": target})
        for phase, items in (("offers", offer_items), ("responses", accepted_items)):
            seats = {}
            for seat in game.waiting():
                if seat in humans:
                    decision = humans[seat](game, seat)
                    game.submit(seat, decision)
                    seats[seat] = {"by": "human", ("decision" if phase == "offers" else "accepted"): items(decision)}
                else:
                    seats[seat] = {"by": "ai"}
            entry[phase] = seats
            play.advance()
    return validate_record(json.loads(dumps(record))), play
