"""Benchmarks for reelforge (`make bench`); results land in bench/RESULTS.md and bench/results/."""
