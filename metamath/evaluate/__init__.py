"""Evaluation: decode the benchmarks with any backend, score both ways, report."""
