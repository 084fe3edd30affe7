"""`devlab bench`: spawn latency, concurrency, login-to-kernel steps and footprint.

A benchmark, not a test: nothing here asserts a timing. Every hub figure comes with a
floor (the same lab started straight through the engine) measured in the same run, and
ratios against it are what compare across machines and runs.
"""

from devlab.bench.report import BenchReport, render_table
from devlab.bench.runner import BenchError, run_bench

__all__ = ["BenchError", "BenchReport", "render_table", "run_bench"]
