"""Tests for tempvl_bench.metrics and the score command."""
