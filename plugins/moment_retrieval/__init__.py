"""Moment retrieval benchmarks: Charades-STA, ActivityNet Captions, QVHighlights."""
