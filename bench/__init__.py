"""Performance benchmarks of the sandbox: throughput, latency, memory, start-up and large documents.

Run everything with ``python -m bench`` (see ``docs/performance.md``). Results go to
``bench/results/latest.json`` and ``latest.md``.
"""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
CACHE_DIR = BENCH_DIR / ".cache"
RESULTS_DIR = BENCH_DIR / "results"
