"""Scenario data: the vocabulary of ids, the validated schema and its loading (files, ``extends``,
``--set`` overrides). The lowest layer: it knows nothing of the game's rules."""
