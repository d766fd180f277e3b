"""The game's fixed vocabulary, and the baseline's actor ids.

The actors, routes, minerals, blocs and trade partners of a game are data: a scenario's own ids
(``Scenario.power_ids``, ``host_ids``, ``route_ids``, ``mineral_ids``, ``creditor_ids``,
``bloc_ids``, ``partner_ids``), in the order its file lists them. What stays fixed is the
vocabulary every scenario shares: the move domains, the creditor classes that are not powers,
the ``other`` partner and offtaker, and the words an id may not be.

``POWERS``, ``HOSTS`` ... below are the ids of ``configs/baseline.toml``, kept for tests, docs and
examples; the package's code reads a scenario's ids instead (tests/test_layers.py checks it).
"""

DOMAINS = ("financing", "infrastructure", "digital", "energy")
# Creditor classes of public external debt besides the powers (a scenario's creditors are its
# powers and these).
NON_POWER_CREDITORS = ("multilateral", "private")
# Trade partners, energy destinations and mineral offtakers that are no power of the game.
OTHER = "other"
# Words an actor, route or mineral id may not be: they name something else where ids are keys
# (a creditor class, the rest of the world, an event's target).
RESERVED_IDS = (*NON_POWER_CREDITORS, OTHER, "random_host", "sources")

# ------------------------------------------------------------------ the baseline's ids
POWERS = ("china", "us", "g7", "russia")
HOSTS = ("kaz", "uzb", "kgz", "tjk", "tkm")
ROUTES = ("northern", "middle", "southern")
# Technology/standards blocs: who supplies telecom gear, cloud, logistics platforms.
BLOCS = ("chinese", "western", "russian")
CREDITORS = (*POWERS, *NON_POWER_CREDITORS)
TRADE_PARTNERS = ("china", "russia", "west", OTHER)
MINERALS = ("uranium", "tungsten", "lithium", "rare_earths", "antimony")
# Each power's bloc and trade partner (the baseline's ``powers.<id>.bloc`` and ``.partner``).
POWER_BLOC = {"china": "chinese", "us": "western", "g7": "western", "russia": "russian"}
POWER_PARTNER = {"china": "china", "us": "west", "g7": "west", "russia": "russia"}
# The baseline's ``display`` names (for sentences: "the US" mid-sentence).
NAMES = {
    "china": "China",
    "us": "the US",
    "g7": "the G7",
    "russia": "Russia",
    "kaz": "Kazakhstan",
    "uzb": "Uzbekistan",
    "kgz": "Kyrgyzstan",
    "tjk": "Tajikistan",
    "tkm": "Turkmenistan",
}


def display(actor_id: str, *, start: bool = False, names: dict[str, str] | None = None) -> str:
    """Readable name of an actor for sentences ("the US" mid-sentence, "The US" first), from
    ``names`` (a scenario's :meth:`~strategy_abm.scenario.config.Scenario.display_names`; the
    baseline's by default); an id without a name is shown as itself."""
    name = (NAMES if names is None else names).get(actor_id, actor_id)
    return name[0].upper() + name[1:] if start and name else name
