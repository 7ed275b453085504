"""Reporting runs: the results file, outcomes and their uncertainty, paired comparisons, the
leaderboard (markdown, LaTeX, CSV) and its HTML report."""
