"""Synthetic boroughs: realistic record-level partner data for demos, tests and benchmarks."""
