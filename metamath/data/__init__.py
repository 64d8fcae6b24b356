"""Benchmark and training datasets: GSM8K, MATH, MATH-500, GSM8K-Backward and the OOD sets."""

from metamath.data.benchmarks import BENCHMARKS, LoadResult, Problem, load_benchmark
from metamath.data.paths import resolve_data_root, resolve_source
from metamath.data.sources import iter_rows

__all__ = ["BENCHMARKS", "LoadResult", "Problem", "iter_rows", "load_benchmark", "resolve_data_root", "resolve_source"]
