"""Benchmarks: scripts that print figures (results are recorded in docs/)."""
