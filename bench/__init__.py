"""Benchmarks (not part of the package): see bench/README.md."""
