"""Rank a py-spy profile: ``python -m bench.profile bench/profile/ingest.folded [--top 25]``.

The input is py-spy's ``--format raw`` output (collapsed stacks: ``frame;frame;... count``,
with ``--threads`` the first frame names the thread). Prints, as % of all samples:
the threads; where the time goes by category (``CATEGORIES``); the functions by *self* time (the frame on top of the stack) and by
*inclusive* time (the frame anywhere in the stack, counted once per sample).
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# The repository's own files are shown relative to its root, wherever it is checked out.
REPO = str(Path(__file__).resolve().parents[1]) + "/"
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    """'func (path/to/site-packages/pkg/mod.py:12)' -> 'func (pkg/mod.py)'."""
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "lib/python3.11/", REPO):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('func')} ({path})"


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            try:
                n = int(count)
            except ValueError:
                continue
            stacks.append((stack.split(";"), n))
    return stacks


# Where a sample's time goes. First the rules that win wherever their frame is in the stack (in this
# order: orjson inside streams/codec.py:loads is "state codec"; a socket write under the producer
# is "produce"); then, from the innermost frame outwards, the rules for the glue; else the loop.
ANYWHERE = [
    ("state codec: orjson loads/dumps of whole table values", ("loads (streams/codec.py)", "dumps (streams/codec.py)")),
    ("validation: convoflow/contract/events.py", ("(convoflow/contract/events.py)",)),
    ("fold: tables/*.py", ("(tables/",)),
    ("exports, lookups: exporters/*.py", ("(exporters/",)),
    ("RocksDB store (faust/stores/rocksdb.py)", ("(faust/stores/",)),
    ("produce: changelogs + internal topics (aiokafka producer)", ("(aiokafka/producer/", "(faust/transport/producer",
                                                                   "Producer.send (faust/transport/drivers",
                                                                   "(faust/topics.py)")),
    ("consume: aiokafka fetcher + Faust conductor", ("(aiokafka/consumer/", "(faust/transport/consumer.py)",
                                                    "(faust/transport/conductor.py)",
                                                    "Consumer._to_message (faust/transport/drivers")),
    ("table recovery (faust/tables/recovery.py)", ("(faust/tables/recovery.py)",)),
]
INNERMOST = [
    ("Faust table bookkeeping (faust/tables, ManagedUserDict)", ("(faust/tables/", "(mode/utils/collections.py)")),
    ("Faust stream/agent machinery", ("(faust/streams.py)", "(faust/agents/", "(faust/events.py)")),
    ("convoflow agents (streams/*.py)", ("(streams/",)),
    ("Kafka I/O (aiokafka conn/client)", ("(aiokafka/",)),
]
LOOP = "event loop, mode services, select/wait"
CATEGORIES = ANYWHERE + INNERMOST + [(LOOP, ())]


def category(body: list[str]) -> str:
    names = [short(f) for f in body]
    for cat, needles in ANYWHERE:
        if any(n in name for name in names for n in needles):
            return cat
    for name in reversed(names):
        for cat, needles in INNERMOST:
            if any(n in name for n in needles):
                return cat
    return LOOP


def rank(stacks, top: int = 25) -> dict:
    total = sum(n for _, n in stacks) or 1
    threads: Counter = Counter()
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    categories: Counter = Counter()
    for frames, n in stacks:
        thread = frames[0] if frames and frames[0].startswith(("thread", "process")) else "?"
        threads[thread] += n
        body = [f for f in frames if not f.startswith(("thread", "process"))]
        if body:
            self_time[short(body[-1])] += n
            categories[category(body)] += n
        for name in {short(f) for f in body}:
            inclusive[name] += n

    def pct(c: Counter):
        return [(name, round(100 * n / total, 1)) for name, n in c.most_common(top)]

    return {"samples": total, "threads": pct(threads), "categories": pct(categories), "self": pct(self_time),
            "inclusive": pct(inclusive)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.profile")
    p.add_argument("file")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    r = rank(load(args.file), args.top)
    print(f"{r['samples']} samples")
    for title in ("threads", "categories", "self", "inclusive"):
        print(f"\n{title} (% of samples):")
        for name, pct in r[title]:
            print(f"  {pct:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
