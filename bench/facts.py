"""Reading a conversation's facts by position or through their layouts: ``python -m bench.facts``.

The facts of a conversation are stored as JSON arrays whose layouts are the classes of
``tables/conversation.py`` (``Message``, ``StatusChange``, ``Annotation``, ...). This folds a
simulated contact centre into conversation states, then times, in one process and in
alternating rounds, two ways of reading the fields of every fact:

- ``positions``: ``fact[M_T]``, ``fact[M_DIR]``, ... (what the code does);
- ``views``: ``Message._make(fact).t``, ``.direction``, ... (a typed view per fact).

It also times what a worker does per conversation on each write and what the reports that read
most facts do per conversation, so the difference can be set against them. Figures are the
median of ``--rounds`` rounds, in microseconds (per fact, or per conversation).
"""
from __future__ import annotations

import argparse
import statistics
import time

import orjson

from convoflow.contract.events import parse_record, topic_of
from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS, decoder
from convoflow.exporters.request import ExportRequest
from convoflow.tables import conversation as conv
from convoflow.tables import people
from convoflow.tools import simulate

REPORTED = ("messages", "agent_responses", "virtual_agents")
LAYOUTS = {"m": conv.Message, "s": conv.StatusChange, "a": conv.Annotation}


def states(conversations: int) -> dict[str, dict]:
    events = simulate.generate(seed=7, agents=20, teams=4, conversations=conversations, days=3,
                               start="2024-07-15T00:00:00Z")
    out: dict[str, dict] = {}
    for e in events:
        kind = topic_of(e["type"])
        if kind in ("directory", "presence", "contact-attributes"):
            continue
        e = parse_record(kind, orjson.dumps(e))
        conv.apply(out.setdefault(e["conversation_id"], {}), e)
    return out


PREFIX = {"Message": "M_", "StatusChange": "S_", "Annotation": "A_"}


def readers(layout):
    """Two functions that read every field of every fact, as code reads them: by the positions'
    names (``f[M_T]``) and through a view (``v.t``); written out, not looped over the fields."""
    constants = {name: value for name, value in vars(conv).items() if name.startswith(PREFIX[layout.__name__])}
    by_value = {value: name for name, value in constants.items()}
    indexed = "; ".join(f"f[{by_value[i]}]" for i in range(len(layout._fields)))
    viewed = "; ".join(f"v.{name}" for name in layout._fields)
    source = (f"def positions(facts):\n    for f in facts:\n        {indexed}\n"
              f"def views(facts):\n    make = layout._make\n    for f in facts:\n        v = make(f)\n        {viewed}\n")
    namespace = {**constants, "layout": layout}
    exec(compile(source, f"<bench.facts {layout.__name__}>", "exec"), namespace)
    return namespace["positions"], namespace["views"]


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def measure(conversations: int = 2000, rounds: int = 21) -> dict[str, float]:
    by_id = states(conversations)
    figures: dict[str, float] = {}
    for part, layout in LAYOUTS.items():
        facts = [f for s in by_id.values() for f in s.get(part, {}).values()]
        by_positions, by_views = readers(layout)
        positions, views = [], []
        for _ in range(rounds):
            positions.append(_timed(by_positions, facts))
            views.append(_timed(by_views, facts))
        n = len(facts)
        figures[f"{layout.__name__}_positions_us"] = statistics.median(positions) / n * 1e6
        figures[f"{layout.__name__}_views_us"] = statistics.median(views) / n * 1e6

    n = len(by_id)

    def write():
        for cid, state in by_id.items():
            d = conv.derive(state)
            conv.encode(state, d)
            people.contributions(cid, state, d)

    figures["write_per_conversation_us"] = statistics.median(_timed(write) for _ in range(rounds)) / n * 1e6
    for export_type in REPORTED:
        report = REPORTS[export_type]
        req = ExportRequest("bench", export_type, "Europe/Amsterdam", "2024-07-14", "2024-07-20", (),
                            "2024-07-21T00:00:00Z")
        ctx = ReportContext(req, parse_time("2024-07-21T00:00:00Z"))
        decode = decoder(report, "conversations")
        stored = [(cid, decode(conv.encode(state))) for cid, state in by_id.items()]
        rows = report.sources["conversations"]

        def export():
            for cid, state in stored:
                for _ in rows(ctx, cid, state):
                    pass

        figures[f"{export_type}_per_conversation_us"] = statistics.median(_timed(export) for _ in range(rounds)) / n * 1e6
    return figures


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.facts", description=__doc__.splitlines()[0])
    p.add_argument("--conversations", type=int, default=2000)
    p.add_argument("--rounds", type=int, default=21)
    args = p.parse_args(argv)
    for name, value in measure(args.conversations, args.rounds).items():
        print(f"{name:40} {value:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
