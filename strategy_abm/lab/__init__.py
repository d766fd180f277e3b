"""The strategy lab: role-based tournaments, meta-game analysis, tuning and a PettingZoo environment (top layer)."""
