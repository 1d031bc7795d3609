"""Sorted runs of a row report: ``[sort_key, csv_line]`` items, one JSON document a line.

A shard writes its rows as sorted runs; the coordinator merges every run into
the CSV file. A large merge is split by key range (``split_keys``): each range
is merged on its own (``merge_range``, in an export helper) into a segment of
the file, and the segments, in key order, make the file.
"""
from __future__ import annotations

import heapq
import os
from operator import itemgetter
from typing import IO

import orjson

from convoflow.exporters.csvfile import append_lines

SAMPLES = 32  # keys read from each run file (on average) to choose where the ranges split

_sort_key = itemgetter(0)


def append_run(f: IO[bytes], items) -> None:
    dumps, opt = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    f.writelines(dumps(item, option=opt) for item in items)


def read_run(f: IO[bytes]):
    loads = orjson.loads
    for raw in f:
        yield loads(raw)


def merge_lines(runs):
    """Sorted ``[sort_key, line]`` runs (of every shard) merged into one sorted stream of lines."""
    for _, text in heapq.merge(*runs, key=_sort_key):
        yield text


def _line_at(f: IO[bytes], offset: int) -> tuple[int, bytes]:
    """The first whole line that starts at or after ``offset``, and where it starts."""
    if offset == 0:
        f.seek(0)
    else:
        f.seek(offset - 1)
        f.readline()  # the rest of the line ``offset`` is in (none when a line ends just before it)
    return f.tell(), f.readline()


def split_keys(paths: list[str], ways: int, samples: int = SAMPLES) -> list:
    """``ways - 1`` sort keys that split the lines of the run files ``paths`` into ``ways`` ranges of
    about as many bytes: the quantiles of keys read at evenly spaced offsets of each file (a larger
    file gives more of them)."""
    sizes = {path: os.path.getsize(path) for path in paths}
    total = sum(sizes.values())
    if ways < 2 or total == 0:
        return []
    keys = []
    for path, size in sizes.items():
        n = max(1, round(samples * len(paths) * size / total))
        with open(path, "rb") as f:
            for i in range(n):
                _, raw = _line_at(f, size * i // n)
                if raw:
                    keys.append(orjson.loads(raw)[0])
    keys.sort()
    return [keys[len(keys) * i // ways] for i in range(1, ways)]


def offset_of(f: IO[bytes], key) -> int:
    """Where the first line of the sorted run ``f`` whose sort key is ``key`` or after it starts (the
    file's size when there is none): a binary search over byte offsets."""
    size = f.seek(0, os.SEEK_END)
    lo, hi = 0, size  # the answer is the first line starting at or after some offset in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        start, raw = _line_at(f, mid)
        if not raw or orjson.loads(raw)[0] >= key:
            hi = mid
        else:
            lo = mid + 1
    return _line_at(f, lo)[0] if lo < size else size


def _read_between(f: IO[bytes], start: int, end: int):
    f.seek(start)
    loads, at = orjson.loads, start
    for raw in f:
        if at >= end:
            return
        at += len(raw)
        yield loads(raw)


def merge_range(paths: list[str], low, high, out: IO[str]) -> int:
    """The lines of the run files ``paths`` whose sort key is in [``low``, ``high``) (None: no bound)
    merged in order and written to the text file ``out``; how many."""
    files = [open(path, "rb") for path in paths]
    try:
        runs = []
        for f in files:
            start = 0 if low is None else offset_of(f, low)
            end = f.seek(0, os.SEEK_END) if high is None else offset_of(f, high)
            runs.append(_read_between(f, start, end))
        return append_lines(out, merge_lines(runs))
    finally:
        for f in files:
            f.close()
