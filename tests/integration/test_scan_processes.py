"""Exports whose shards are scanned by processes of their own (convoflow.streams.scan_process), on two
workers: a coordinator takes its own worker's run files as they are and the other worker's lines
as parts, aggregate reports' partials come back as parts, and every report is still the reference
model's, cell by cell."""
import pytest

from convoflow.tools import simulate
from tests.integration.harness import cell_diff, workers_running
from tests.integration.test_metrics import scrape
from tests.reference import model

FIRST, LAST, AS_OF = "2024-07-15", "2024-07-17", "2024-07-18T06:00:00Z"
ROW_REPORTS = ["conversations_resolved", "conversations_open", "messages", "agent_responses"]
AGGREGATE_REPORTS = ["agent_metrics", "teams", "contacts", "topics"]


@pytest.fixture(scope="module")
def processes(broker, tmp_path_factory):
    # Every partition is "large": every row export's shard runs in a scan process, and every merge of
    # run files is split by key range across two of them.
    env = {"CONVOFLOW_EXPORT_PROCESS_MIN_KEYS": "0", "CONVOFLOW_EXPORT_PROCESSES": "2",
           "CONVOFLOW_EXPORT_MERGE_SPLIT_MB": "0"}
    with workers_running(tmp_path_factory.mktemp("scan-processes"), workers=2, env=env) as d:
        yield d


@pytest.fixture(scope="module")
def events(processes):
    events = simulate.generate(seed=29, agents=10, teams=3, conversations=250, days=3)
    # Spreadsheet-unsafe conversation IDs sort out of the store's order: they travel as runs of their own.
    events += [{**e, "conversation_id": "=" + e["conversation_id"], "event_id": "u-" + e["event_id"],
                **({"message_id": "=" + e["message_id"]} if "message_id" in e else {})}
               for e in events if e.get("conversation_id", "").endswith("7")]
    processes.publish(simulate.disorder(events, seed=4, duplicate_rate=0.1, window=300))
    return events


@pytest.mark.parametrize("export_type", ROW_REPORTS + AGGREGATE_REPORTS)
def test_reports_from_scan_processes(processes, events, export_type):
    before = [scrape(w)[("convoflow_export_scan_processes_total", ())] for w in processes.workers]
    split_before = sum(scrape(w)[("convoflow_export_split_merges_total", ())] for w in processes.workers)
    result, body = processes.export(export_type, "Europe/Amsterdam", FIRST, LAST, as_of=AS_OF)
    assert result["status"] == "completed", result
    expected = model.report(events, export_type, "Europe/Amsterdam", FIRST, LAST, as_of=AS_OF)
    assert body == expected, cell_diff(expected, body)
    assert body.count(b"\r\n") > (10 if export_type in ROW_REPORTS else 3), "an empty report proves nothing"
    after = [scrape(w)[("convoflow_export_scan_processes_total", ())] for w in processes.workers]
    assert sum(after) - sum(before) == 4, "each of the four shards was scanned by a process"
    assert all(a > b for a, b in zip(after, before)), "both workers scanned with processes"
    splits = sum(scrape(w)[("convoflow_export_split_merges_total", ())] for w in processes.workers) - split_before
    assert splits == (1 if export_type in ROW_REPORTS else 0), "a row report's merge was split across two processes"


def test_scan_processes_leave_nothing_behind(processes, events):
    result, _ = processes.export("conversations_resolved", "UTC", FIRST, LAST, as_of=AS_OF)
    assert result["status"] == "completed", result
    for w in processes.workers:
        scans = w.data_dir / "export-scans"
        assert not scans.exists() or not any(scans.iterdir()), list(scans.iterdir())
