"""What a run leaves behind: output folders (made safely), CSV and JSON files, plots."""
