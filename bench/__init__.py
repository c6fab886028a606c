"""Benchmarks (not tests): `python -m bench --json` prints one JSON object of figures."""
