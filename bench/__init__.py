"""convoflow benchmark (issue 5): ``python -m bench.run`` or ``make bench``; see docs/performance.md."""
