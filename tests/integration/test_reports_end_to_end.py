"""Simulated events, duplicated and disordered, through real workers on the real broker;
every report compared cell by cell with the reference model (tests/reference/model.py)."""
import pytest

from convoflow.tools import simulate
from tests.integration.harness import cell_diff
from tests.reference import model

from convoflow.exporters.reports import REPORTS

ROW_REPORTS = sorted(REPORTS)
# Late October: Europe/Amsterdam leaves summer time on 2024-10-27 (a 25-hour day).
START, FIRST, LAST = "2024-10-25T00:00:00Z", "2024-10-25", "2024-10-28"
AS_OF = "2024-10-29T12:00:00Z"


@pytest.fixture(scope="module")
def events():
    return simulate.generate(seed=11, agents=12, teams=3, conversations=300, days=4, start=START)


@pytest.fixture(scope="module")
def published(deployment, events):
    deployment.start_worker()
    noisy = simulate.disorder(events, seed=5, duplicate_rate=0.10, window=400)
    summary = deployment.publish(noisy)
    assert summary.published == len(noisy) and not summary.rejected
    return deployment


def check(deployment, events, export_type, tz, first=FIRST, last=LAST, channels=None, as_of=AS_OF):
    result, body = deployment.export(export_type, tz, first, last, channels=channels, as_of=as_of)
    assert result["status"] == "completed", result
    expected = model.report(events, export_type, tz, first, last, channels=channels, as_of=as_of)
    assert body == expected, cell_diff(expected, body)
    assert result["rows"] == len(model.rows(events, export_type, tz, first, last, channels=channels, as_of=as_of)) - 1
    return body


@pytest.mark.parametrize("tz", ["Europe/Amsterdam", "Asia/Kathmandu", "UTC", "America/New_York"])
@pytest.mark.parametrize("export_type", ROW_REPORTS)
def test_report_equals_reference_model(published, events, export_type, tz):
    body = check(published, events, export_type, tz)
    assert body.count(b"\r\n") > 1, "an empty report proves nothing"


@pytest.mark.parametrize("export_type", ROW_REPORTS)
def test_channel_filter_and_a_single_day(published, events, export_type):
    channel = next(e["channel_id"] for e in events if e["type"] == "message.created")
    check(published, events, export_type, "Europe/Amsterdam", "2024-10-27", "2024-10-27", channels=[channel, "no-such-channel"])


def test_download_over_http_and_repeated_request_id(published, events):
    d = published
    first, body = d.export("messages", "UTC", FIRST, LAST, request_id="repeat-me", as_of=AS_OF)
    again, body_again = d.export("messages", "UTC", FIRST, LAST, request_id="repeat-me", as_of=AS_OF)
    assert again["file"] == first["file"] and again["finished_at"] == first["finished_at"] and body_again == body
    status, served = d.workers[0].get("/exports/repeat-me.csv")
    assert status == 200 and served == body
    assert d.workers[0].get("/exports/..%2Fetc%2Fpasswd")[0] in (400, 404)
    other, _ = d.export("messages", "UTC", FIRST, FIRST, request_id="repeat-me")
    assert other["status"] == "failed" and "different parameters" in other["error"]


def test_read_your_writes_without_sleeping(published, events):
    """Events published just before a request are in its report."""
    d = published
    late = [
        {"event_id": "ryw-1", "type": "message.created", "occurred_at": "2024-10-26T10:00:00Z", "message_id": "ryw-m1",
         "conversation_id": "ryw-c1", "channel_id": "ryw-ch", "contact_profile_id": "ryw-ct", "direction": "INBOUND",
         "message_type": "TEXT", "contact_primary_identifier": "=cmd|' /C calc'!A0"},
        {"event_id": "ryw-2", "type": "channel.upserted", "occurred_at": "2024-10-26T09:00:00Z", "channel_id": "ryw-ch",
         "medium": "sms", "name": "Late channel"},
    ]
    d.publish(late)
    body = check(d, events + late, "messages", "UTC", channels=["ryw-ch"])
    assert b"ryw-m1" in body and b"Late channel" in b"".join(body.split(b"\r\n")[1:])
    assert b"'=cmd" in body  # spreadsheet-unsafe identifier neutralised
