"""Annotation parsers, the dataset catalogue, typed records, demo data and the torch data pipeline.

A split's annotations are read in one way: :func:`tempvl_core.data.catalogue.load`.
"""
