"""`convoflow publish` without a broker: line handling, gzip detection, progress, the summary."""
import asyncio
import gzip
import io

import orjson
import pytest

from convoflow.tools import publish
from convoflow.contract.config import Settings
from convoflow.contract.events import MAX_RECORD_BYTES
from convoflow.tools.publish import Input, InputError, Progress, decode_line, publish_lines, read_lines

MESSAGE = {"event_id": "e1", "type": "message.created", "occurred_at": "2024-07-15T10:00:00Z", "message_id": "m1",
           "conversation_id": "c1", "channel_id": "ch", "contact_profile_id": "ct", "direction": "INBOUND",
           "message_type": "TEXT"}
PRESENCE = {"event_id": "e2", "type": "presence.changed", "occurred_at": "2024-07-15T10:00:00Z", "agent_id": "a-1",
            "state": "AVAILABLE"}
TEAM = {"event_id": "e3", "type": "team.upserted", "occurred_at": "2024-07-15T10:00:00Z", "team_id": "t-1", "name": "T"}


def jsonl(*items) -> bytes:
    return b"".join((orjson.dumps(i) if not isinstance(i, bytes) else i) + b"\n" for i in items)


def test_decode_line_routes_by_type_and_key():
    assert decode_line(orjson.dumps(MESSAGE) + b"\r\n") == ("messages", "c1", orjson.dumps(MESSAGE))
    assert decode_line(orjson.dumps(PRESENCE))[:2] == ("presence", "a-1")
    assert decode_line(orjson.dumps(TEAM))[:2] == ("directory", "team:t-1")
    assert decode_line(b"\xef\xbb\xbf" + orjson.dumps(PRESENCE))[:2] == ("presence", "a-1")  # a BOM on line 1
    assert decode_line(b"   \r\n") is None


@pytest.mark.parametrize("line,reason", [
    (b'{"type": "message.created", ', "invalid JSON"),
    (b"\xff\xfe{}", "invalid JSON"),
    (b"[1, 2]", "not a JSON object"),
    (b'{"type": 7}', "no string 'type'"),
    (b'{"type": "message.exploded"}', "unknown event type 'message.exploded'"),
    (b'{"type": "message.created", "event_id": "x"}', "no key field for message.created"),
    (b'{"type": "team.upserted"}', "no key field for team.upserted"),
])
def test_decode_line_rejects_with_a_reason(line, reason):
    with pytest.raises(publish.Rejected) as exc:
        decode_line(line)
    assert exc.value.reason.startswith(reason)


def test_a_line_over_one_mib_is_rejected_before_decoding():
    big = orjson.dumps({**MESSAGE, "content": "x" * MAX_RECORD_BYTES})
    with pytest.raises(publish.Rejected, match="at most"):
        decode_line(big)


def test_read_lines_numbers_every_line_blank_ones_included():
    data = jsonl(MESSAGE, b"", b"not json", PRESENCE, b"  ", b'{"type":"nope"}').splitlines(keepends=True)
    out = list(read_lines(data))
    assert [item[0] for item in out] == [1, 3, 4, 6]
    assert out[0][1:3] == ("messages", "c1") and out[2][1:3] == ("presence", "a-1")
    assert out[1][1].startswith("invalid JSON") and out[3][1] == "unknown event type 'nope'"


def test_input_detects_gzip_by_magic_bytes(tmp_path):
    body = jsonl(MESSAGE, PRESENCE, TEAM)
    plain, packed, misnamed = tmp_path / "a.jsonl", tmp_path / "b.jsonl.gz", tmp_path / "c.data"
    plain.write_bytes(body)
    packed.write_bytes(gzip.compress(body))
    misnamed.write_bytes(gzip.compress(body))  # gzip without the .gz name
    for path, is_gzip in ((plain, False), (packed, True), (misnamed, True)):
        with Input(str(path)) as stream:
            assert stream.gzip is is_gzip
            assert b"".join(stream) == body
            assert stream.bytes_read == path.stat().st_size == stream.total


def test_input_from_stdin_gzip_and_plain():
    body = jsonl(MESSAGE, PRESENCE)
    assert b"".join(Input("-", stdin=io.BufferedReader(io.BytesIO(gzip.compress(body))))) == body
    assert b"".join(Input("-", stdin=io.BufferedReader(io.BytesIO(body)))) == body


def test_truncated_gzip_and_missing_file_are_input_errors(tmp_path):
    packed = gzip.compress(jsonl(*[MESSAGE] * 2000))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(InputError, match="not a valid gzip file"):
        with Input(str(path)) as stream:
            list(stream)
    with pytest.raises(InputError, match="cannot open"):
        Input(str(tmp_path / "missing.jsonl"))


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_progress_line_shows_lines_megabytes_and_rates():
    clock, out = FakeClock(), io.StringIO()
    p = Progress(total=10_000_000, out=out, interval=1.0, clock=clock)
    clock.t += 2.0
    assert p.line(50_000, 5_000_000, 49_990, 10) == (
        "[##########..........]  50.0% 50,000 lines, 5.0/10.0 MB, 25,000 lines/s, 2.5 MB/s; published 49,990, rejected 10")
    p.update(1, 1, 1, 0)  # due (2 s since the start): printed
    p.update(2, 2, 2, 0)  # not due yet
    clock.t += 1.5
    p.update(3, 3, 3, 0)
    p.finish(4, 4, 4, 0)
    assert len(out.getvalue().splitlines()) == 3  # not a terminal: whole lines, no carriage returns
    assert "\r" not in out.getvalue()
    assert Progress(None, out=io.StringIO(), clock=clock).line(10, 1_000_000, 10, 0).startswith("10 lines, 1.0 MB")


class FakeProducer:
    def __init__(self):
        self.sent = []

    async def send(self, topic, value, key=None):
        self.sent.append((topic, key, value))
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    async def stop(self):
        pass


def test_publish_lines_summary_without_a_broker(tmp_path, monkeypatch):
    producer = FakeProducer()

    async def fake_producer(settings):
        return producer

    monkeypatch.setattr(publish, "_producer", fake_producer)
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(MESSAGE, b"{oops", PRESENCE, b"", TEAM, b'{"type":"nope"}', MESSAGE)))
    out = io.StringIO()
    with Input(str(path)) as stream:
        summary = asyncio.run(publish_lines(Settings(topic_prefix="p-"), stream, Progress(stream.total, out=out)))
    assert summary.published == 4 and summary.lines == 7
    assert summary.per_topic == {"p-messages": 2, "p-presence": 1, "p-directory": 1}
    assert [(n, r.split(":")[0]) for n, r in summary.rejected] == [(2, "invalid JSON"), (6, "unknown event type 'nope'")]
    assert summary.bytes_read == path.stat().st_size and summary.error is None
    assert producer.sent[0] == ("p-messages", b"c1", orjson.dumps(MESSAGE))
    assert "100.0%" in out.getvalue() and "published 4, rejected 2" in out.getvalue()


def test_publish_lines_keeps_what_came_before_a_truncation(tmp_path, monkeypatch):
    producer = FakeProducer()

    async def fake_producer(settings):
        return producer

    monkeypatch.setattr(publish, "_producer", fake_producer)
    packed = gzip.compress(jsonl(*[MESSAGE] * 5000))
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) * 3 // 4])
    with Input(str(path)) as stream:
        summary = asyncio.run(publish_lines(Settings(), stream))
    assert summary.error and "not a valid gzip file" in summary.error
    assert 0 < summary.published < 5000 and summary.published == len(producer.sent)


def test_cli_reports_a_bad_input_in_one_line(tmp_path, capsys):
    from convoflow.cli import main

    path = tmp_path / "bad.gz"
    path.write_bytes(b"\x1f\x8bnot really gzip")
    assert main(["publish", str(path), "--broker", "kafka://127.0.0.1:1"]) in (1, 2)  # no broker there either
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert main(["publish", str(tmp_path / "none.jsonl")]) == 2
    assert "cannot open" in capsys.readouterr().err
