"""Benchmarks: `make bench` (see bench/averages.py)."""
