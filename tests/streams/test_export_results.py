"""What a worker knows of exports' results (streams/export_results.py), without a broker: the records
of export-results applied one by one."""
import orjson

from convoflow.contract.config import Settings
from convoflow.streams.export_results import Results, public_result, rfc3339


def result(rid: str, status: str, **more) -> bytes:
    return orjson.dumps({"request_id": rid, "status": status, **more})


def test_the_latest_result_of_each_export_merged_over_the_earlier_ones():
    results = Results(Settings())
    results.apply(result("r1", "running", export_type="teams", requested_at="2024-07-15T10:00:00.000Z"))
    results.apply(result("r1", "completed", rows=3, file="/x/r1.csv"))
    assert results.get("r1") == {"request_id": "r1", "status": "completed", "export_type": "teams",
                                 "requested_at": "2024-07-15T10:00:00.000Z", "rows": 3, "file": "/x/r1.csv"}
    assert results.get("r2") is None


def test_records_that_are_not_results_are_passed_over():
    results = Results(Settings())
    for value in (None, b"not json", b"[1, 2]", orjson.dumps({"status": "completed"})):
        results.apply(value)
    assert not results.latest


def test_a_request_made_here_is_requested_until_its_first_result():
    results = Results(Settings())
    results.note_request({"request_id": "r1", "export_type": "teams"})
    assert results.get("r1")["status"] == "requested" and results.get("r1")["requested_at"].endswith("Z")
    results.apply(result("r1", "running"))
    assert results.get("r1")["status"] == "running" and results.get("r1")["export_type"] == "teams"
    assert "r1" not in results.requested
    results.note_request({"request_id": "r1", "export_type": "teams"})  # already seen: stays as it is
    assert results.get("r1")["status"] == "running"


def test_only_the_most_recent_are_kept_and_listed_newest_first():
    results = Results(Settings(), keep=3)
    for i in range(5):
        results.apply(result(f"r{i}", "completed", requested_at=f"2024-07-15T10:0{i}:00.000Z"))
    assert list(results.latest) == ["r2", "r3", "r4"]
    assert [r["request_id"] for r in results.recent(limit=2)] == ["r4", "r3"]


def test_every_listener_hears_each_result_and_a_failing_one_stops_nobody():
    results, heard = Results(Settings()), []

    def broken(r):
        raise RuntimeError("a listener's bug")

    results.listeners += [broken, heard.append]
    results.apply(result("r1", "failed", error="no"))
    assert heard == [{"request_id": "r1", "status": "failed", "error": "no"}]


def test_the_page_sees_no_local_path_and_a_completed_export_has_its_link():
    done = public_result({"request_id": "r1", "status": "completed", "file": "/data/exports/r1.csv", "rows": 2})
    assert done == {"request_id": "r1", "status": "completed", "rows": 2, "download_url": "/exports/download/r1"}
    assert public_result({"request_id": "r2", "status": "running", "file": None}) == {"request_id": "r2", "status": "running"}


def test_rfc3339_in_milliseconds_and_utc():
    assert rfc3339(1_721_034_902_123_456) == "2024-07-15T09:15:02.123Z"
