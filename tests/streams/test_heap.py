"""What the worker does to glibc's malloc gives freed memory back to the system."""
import subprocess
import sys
import textwrap

import pytest

from convoflow.streams import heap

pytestmark = pytest.mark.skipif(not heap._glibc(), reason="glibc only")

# A fresh process frees a 4 MiB block (glibc's mmap threshold rises to it), then makes 200 blocks of
# 1 MiB with a small long-lived block after each and frees the big ones: holes a heap keeps.
SCRIPT = textwrap.dedent("""
    import sys
    from convoflow.streams import heap
    def rss():
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
    if sys.argv[1] == "fixed":
        assert heap.fix_mmap_threshold()
    block = bytearray(4 << 20)
    del block
    big, keep = [], []
    for i in range(200):
        big.append(bytearray(1 << 20))
        keep.append(bytes(1000 + i))
    before = rss()
    del big
    if sys.argv[1] == "trimmed":
        assert heap.give_back() >= 0
    print(before - rss())
""")


def freed_mb(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
    return int(out.stdout)


def test_glibc_keeps_freed_blocks_unless_the_threshold_is_fixed_or_the_heap_trimmed():
    assert freed_mb("default") < 50  # kept for reuse: what made a worker's RSS grow
    assert freed_mb("fixed") > 150  # each block mapped on its own, unmapped when freed
    assert freed_mb("trimmed") > 150  # the free pages between live blocks given back


def test_the_trim_timer_is_registered_only_when_asked_for_and_gives_back_in_a_thread(monkeypatch):
    import asyncio
    import threading
    from types import SimpleNamespace

    timers, ran_in = [], []
    monkeypatch.setattr(heap, "give_back", lambda: ran_in.append(threading.current_thread()) or 0.0)

    def timer(seconds):
        def register(fn):
            timers.append((seconds, fn))
            return fn
        return register

    app = SimpleNamespace(timer=timer)
    heap.register(app, 0)
    assert timers == []
    heap.register(app, 30)
    assert [s for s, _ in timers] == [30]
    asyncio.run(timers[0][1]())
    assert len(ran_in) == 1 and ran_in[0] is not threading.main_thread()  # off the event loop's thread
