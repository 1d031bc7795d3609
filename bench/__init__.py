"""convoflow benchmark: ``python -m bench.run`` or ``make bench``; see docs/performance.md."""
