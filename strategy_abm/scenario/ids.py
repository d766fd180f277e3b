"""Identifiers shared by configs, rules, agents and outputs.

These are the game's vocabulary, not world figures: the actors of `brief.md`, the corridors,
the blocs that own technology standards, and the creditor classes of public external debt.
"""

POWERS = ("china", "us", "g7", "russia")
HOSTS = ("kaz", "uzb", "kgz", "tjk", "tkm")
ROUTES = ("northern", "middle", "southern")
DOMAINS = ("financing", "infrastructure", "digital", "energy")
# Technology/standards blocs: who supplies telecom gear, cloud, logistics platforms.
BLOCS = ("chinese", "western", "russian")
# Whose standard a two-way digital market follows (Russia has no cloud or platform offer).
TWO_BLOCS = ("chinese", "western")
CREDITORS = (*POWERS, "multilateral", "private")
TRADE_PARTNERS = ("china", "russia", "west", "other")
ENERGY_DESTINATIONS = ("china", "russia", "west", "other")
MINERALS = ("uranium", "tungsten", "lithium", "rare_earths", "antimony")
OFFTAKERS = (*POWERS, "other")

POWER_BLOC = {"china": "chinese", "us": "western", "g7": "western", "russia": "russian"}
# The trade partner / energy destination that each power's presence counts through.
POWER_PARTNER = {"china": "china", "us": "west", "g7": "west", "russia": "russia"}

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


def display(actor_id: str, *, start: bool = False) -> str:
    """Readable name of an actor for sentences ("the US" mid-sentence, "The US" first)."""
    name = NAMES.get(actor_id, actor_id)
    return name[0].upper() + name[1:] if start else name
