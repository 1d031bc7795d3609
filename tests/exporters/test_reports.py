"""How a shard cuts a row report into sorted runs for the coordinator to merge."""
from convoflow.exporters.reports import REPORTS, shard_lines
from convoflow.exporters.runs import merge_lines
from convoflow.exporters.request import ExportRequest
from convoflow.exporters.context import ReportContext

REPORT = REPORTS["conversations_resolved"]
CTX = ReportContext(ExportRequest(request_id="r", export_type="conversations_resolved", time_zone="UTC",
                                  date_from="2024-07-01", date_to="2024-08-01"), 1_900_000_000_000_000)


def summary(cid: str, minute: int) -> dict:
    t = 1_719_792_000_000_000 + minute * 60_000_000  # 2024-07-01
    return {"channel": "ch", "contact": None, "created": t, "first_resolved": t + 1, "last_agent": None, "last_team": None,
            "status": "RESOLVED", "resolution": None, "resolution_time": None, "inbound": 1, "outbound": 0,
            "first_response": None, "handle": 0, "no_reply": 0, "cherry_picking": 0, "topics": [], "last_updated": t,
            "language": None, "csat": None}


def states(ids):
    return (("conversations", cid, summary(cid, i)) for i, cid in enumerate(ids))


def test_rows_in_store_order_go_out_as_one_run_without_waiting():
    ids = sorted(f"c{i:05d}" for i in range(200))
    out = shard_lines(REPORT, CTX, states(ids), run_rows=10)
    first = next(out)  # streamed as made: the first row is out before the scan has gone further
    assert first[0] == 0 and first[1][0] == ["c00000"]
    assert {run for run, _ in out} == {0}


def test_rows_out_of_order_wait_in_sorted_runs_and_the_merge_restores_the_order():
    # store order is by ID; an ID a spreadsheet would execute is written (and sorted) with a quote
    ids = sorted(["b1", "=a", "c2", "+z", "a0", "0d", "@m", "1e", "=q", "9f", "@n", "=r"] + [f"g{i}" for i in range(20)])
    runs: dict[int, list] = {}
    for run, item in shard_lines(REPORT, CTX, states(ids), run_rows=2):
        runs.setdefault(run, []).append(item)
    assert all(items == sorted(items) for items in runs.values())
    assert len(runs) >= 3 and all(len(items) <= 2 for run, items in runs.items() if run)
    lines = list(merge_lines(runs.values()))
    assert [line.split(",")[0] for line in lines] == sorted(("'" + i if i[0] in "=+-@" else i) for i in ids)
