"""`devlab bench`: spawn latency, concurrency, login-to-kernel steps and footprint.

A benchmark, not a test: nothing here asserts a timing. Every hub figure comes with a
floor (the same lab started straight through the engine) measured in the same run, and
ratios against it are what compare across machines and runs.

Modules, one job each: run (start to end), stack (the stack brought up with the bench's
config and put back), config (that config: the bench's mock users), hub and floor (the
two ways a lab starts), events (the engine's container events), progress (the hub's
spawn progress stream), harness (many users at once), memory, sections (the three
measurements), timeline/stats/report (pure: marks to phases, statistics, JSON and table).
It needs only the base install: what it shares with devlab.testing is in devlab.client.
"""

from devlab.bench.errors import BenchError
from devlab.bench.report import BenchReport, render_table
from devlab.bench.run import run_bench

__all__ = ["BenchError", "BenchReport", "render_table", "run_bench"]
