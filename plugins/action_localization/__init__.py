"""Temporal action localization benchmarks: THUMOS14 and ActivityNet v1.3."""
