"""The strategy lab: tournaments, meta-game analysis, tuning and the PettingZoo environment."""
