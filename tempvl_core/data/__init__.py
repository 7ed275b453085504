"""Annotation loaders, typed records, demo data and the torch data pipeline."""
