"""What every part of the simulated contact centre shares: its random draws, its days, its events.

One ``random.Random(seed)`` makes every choice, and every part draws from it in
the order the simulation runs; that order is what makes a seed give the same
events, byte for byte.
"""
from __future__ import annotations

import random

from convoflow.tools.simulate.clock import DAY, MS, Timestamps


class Centre:
    def __init__(self, seed: int, t0: int, days: int) -> None:
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        self.t0 = t0
        self.days = days
        self.mid = t0 + days * DAY // 2
        self.fmt = Timestamps()
        self.out: list[tuple[int, dict]] = []  # (time, event) in the order they are made

    def emit(self, t: int, typ: str, fields: dict) -> dict:
        """An event of type ``typ`` at ``t``; its ``event_id`` and ``occurred_at`` are written at the end."""
        e = {"event_id": "", "type": typ, "occurred_at": ""}
        e.update(fields)
        self.out.append((t, e))
        return e

    def secs(self, lo: float, hi: float) -> int:
        """A random duration in [lo, hi] seconds, in whole milliseconds."""
        lo_ms = int(lo * 1000)
        return (lo_ms + int(self.rnd() * (int(hi * 1000) - lo_ms + 1))) * MS

    def below(self, n: int) -> int:
        """A random int in [0, n) (cheaper than randrange, deterministic)."""
        return int(self.rnd() * n)

    def pick(self, seq):
        return seq[int(self.rnd() * len(seq))]

    def expo(self, mean_s: float, cap_s: float | None = None) -> int:
        """A random duration, exponential with mean ``mean_s`` seconds (at most ``cap_s``), in whole
        milliseconds, at least one."""
        v = self.rng.expovariate(1.0 / mean_s)
        if cap_s is not None and v > cap_s:
            v = cap_s
        return max(1, int(v * 1000)) * MS
