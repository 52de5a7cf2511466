"""Benchmarks. `python -m bench [NAME ...] [--scale S]` runs them and updates BENCHMARKS.md."""
