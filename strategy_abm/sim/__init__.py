"""The Mesa shell: ``CompetitionModel`` orders a turn, its agents hold each actor's state, and
Mesa's DataCollector records it."""
