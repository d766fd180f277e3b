"""The game itself, without Mesa and without I/O: the rules, events, metrics and the records
(offers, projects, ledgers) they pass around."""
