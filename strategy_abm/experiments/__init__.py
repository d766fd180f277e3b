"""Batch experiments: experiment files and designs, the sweep runner, the results store and
the analysis of results."""
