"""The classroom: rooms where people play the powers and the hosts turn by turn (``room.py``), the
record of a game that persists, exports and replays it (``record.py``), the rooms' store
(``store.py``), the web app and the debrief. The top layer with the command line: it may import
any layer below, and nothing but ``cli.py`` imports it (docs/architecture.md)."""
