"""Benchmarks: each runs our engine and a naive baseline side by side and prints the ratio."""
