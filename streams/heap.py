"""The worker's C heap: what glibc's malloc keeps after it is freed, given back.

A 300,000-conversation ingest ended with 1.7 GB of malloc arenas of which only
about 350 MB was in use: glibc keeps freed memory for reuse and returns only the
top of a heap. Its mmap threshold also rises to the largest block freed so far,
so blocks of a MiB or more (RocksDB's memtable blocks, fetch buffers) stop being
mapped on their own, and unmapped when freed, and fill the heaps instead. The
worker fixes the threshold at start (``fix_mmap_threshold``), and a timer
asks glibc to give back the free pages of every arena (``malloc_trim``, every
``CONVOFLOW_MALLOC_TRIM_SECONDS``, 2 by default; 0 never) in a thread, so the
agents run on meanwhile: what an ingest or an export freed goes back to the
system within seconds (docs/performance.md, "Memory").
Elsewhere than glibc, both are skipped.
"""
from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import time

log = logging.getLogger("convoflow")

M_MMAP_THRESHOLD = -3  # mallopt parameters (malloc.h)
MMAP_THRESHOLD_BYTES = 512 * 1024  # a fixed threshold also stops its dynamic rise

_libc = None


def _glibc():
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.mallopt, libc.malloc_trim  # noqa: B018 (glibc only)
            libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Blocks of ``threshold`` bytes or more are mapped on their own, so freeing one returns it."""
    libc = _glibc()
    return bool(libc) and libc.mallopt(M_MMAP_THRESHOLD, threshold) == 1


def give_back() -> float | None:
    """Return the arenas' free pages to the system; the seconds it took (None without glibc)."""
    libc = _glibc()
    if not libc:
        return None
    started = time.perf_counter()
    libc.malloc_trim(0)
    return time.perf_counter() - started


def register(app, every_seconds: float) -> None:
    """A timer that gives free memory back every ``every_seconds`` (0: never)."""
    if every_seconds <= 0 or not _glibc():
        return

    @app.timer(every_seconds)
    async def give_back_free_memory():
        # in a thread: ctypes lets go of the GIL, so the agents run on while glibc walks its arenas
        took = await asyncio.get_running_loop().run_in_executor(None, give_back)
        if took is not None and took > 0.5:
            log.info("giving free memory back took %.0f ms", took * 1000)
