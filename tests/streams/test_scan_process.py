"""A shard's scan in a process of its own: the same lines as in the worker, from a consistent
checkpoint, with a clear error when the process fails, and nothing left behind."""
import asyncio
import os
import subprocess
import sys
import time

import pytest
from rocksdict import Options

from convoflow.tools import simulate
import orjson

from convoflow.contract.events import parse_record, topic_of
from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.reports import REPORTS, merge_parts, shard_lines, shard_part
from convoflow.exporters.runs import merge_lines
from convoflow.exporters.request import ExportRequest
from convoflow.streams.contact_copy import NONE, ContactCopy
from convoflow.streams import scan_process
from convoflow.streams.scan_process import ScanProcesses, read_part, read_runs, store_states
from convoflow.streams.state.checkpoint import checkpoint
from convoflow.streams.state.partition import estimated_keys
from convoflow.tables import conversation
from convoflow.tables.directory import Directory, entity_key, merge

from .rocksdb_files import store

REQUEST = {"request_id": "r", "export_type": "conversations_resolved", "time_zone": "Europe/Brussels",
           "date_from": "2024-07-01", "date_to": "2024-07-04", "channels": [], "as_of": None}
AS_OF = parse_time("2024-07-10T00:00:00Z")


@pytest.fixture(scope="module")
def simulated():
    """Conversations as the worker stores them, the directory and the contacts' identifiers."""
    events = simulate.generate(seed=3, agents=8, teams=2, conversations=300, days=3, start="2024-07-01T00:00:00Z")
    states, directory, contacts = {}, {}, {}
    for raw in events:
        e = parse_record(topic_of(raw["type"]), orjson.dumps(raw))
        if topic_of(e["type"]) == "directory":
            key = entity_key(e)
            directory[key] = merge(directory.get(key), e) or directory[key]
        elif "conversation_id" in e:
            conversation.apply(states.setdefault(e["conversation_id"], {}), e)
        if e.get("contact_profile_id"):  # identifiers of our own, one a spreadsheet would execute
            contacts.setdefault(e["contact_profile_id"], ("id-" + e["contact_profile_id"], "=sms"))
    values = {cid.encode(): conversation.encode(s) for cid, s in states.items()}
    values[b"__faust\x00offset"] = b"12"  # Faust's own keys are not rows
    return values, directory, contacts


def expected_lines(values, directory, contacts) -> list[str]:
    report = REPORTS["conversations_resolved"]
    ctx = ReportContext(ExportRequest.from_params(REQUEST), AS_OF, Directory(directory),
                        lambda c: contacts.get(c, NONE))
    states = (("conversations", k.decode(), conversation.decode_head(conversation.head(v))) for k, v in sorted(values.items())
              if not k.startswith(b"__faust"))
    return list(merge_lines([[item for _, item in shard_lines(report, ctx, states)]]))


def contact_copy(path, contacts) -> ContactCopy:
    copy = ContactCopy.create(str(path), Options(raw_mode=True))
    copy.apply({k.encode(): v for k, v in contacts.items()})
    return copy


def job(directory):
    return {"report": "conversations_resolved", "request": REQUEST, "as_of_us": AS_OF, "directory": directory,
            "url_template": "https://x.test/{conversation_id}"}


@pytest.fixture
def stores(tmp_path, simulated):
    """A partition's conversations store, the contact copy, and scan processes for them."""
    values, directory, contacts = simulated
    db = store(tmp_path / "conversations", values, head=conversation.head)
    copy = contact_copy(tmp_path / "contacts", contacts)
    yield db, copy, ScanProcesses(str(tmp_path / "scans"), limit=1, min_keys=0)
    db.close()
    copy.close()


def test_a_scan_process_writes_the_lines_the_worker_would_from_a_checkpoint(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, processes = stores
    assert processes.wanted({"conversations": db}) and not ScanProcesses(str(tmp_path / "s"), 0, 0).wanted({"c": db})
    keys = estimated_keys(db)
    weighed = ScanProcesses(str(tmp_path / "w"), limit=1, min_keys=keys * 12)
    assert not weighed.wanted({"conversations": db}) and weighed.wanted({"conversations": db}, REPORTS["messages"].key_cost), \
        "a partition too small for a helper in conversations_resolved is large enough for messages, row per message"

    j = {**job(directory), "url_template": ReportContext.__dataclass_fields__["url_template"].default}
    directory_, runs = asyncio.run(processes.scan("t-0", j, {"conversations": db}, copy))
    expected = expected_lines(values, directory, contacts)
    assert len(expected) > 50 and any(",'=sms," in line for line in expected)
    got = list(merge_lines([[item for run, item in read_runs(runs) if run == r] for r, _ in runs]))
    assert got == expected
    assert sorted(os.listdir(directory_)) == sorted(os.path.basename(p) for _, p in runs), "the checkpoints are gone"


@pytest.mark.parametrize("export_type", ["topics", "tags", "virtual_agents"])
def test_an_aggregate_reports_scan_process_writes_the_partials_the_worker_would(simulated, stores, export_type):
    values, directory, contacts = simulated
    db, copy, processes = stores
    request = {**REQUEST, "export_type": export_type}
    j = {**job(directory), "report": export_type, "request": request}
    directory_, runs = asyncio.run(processes.scan(f"t-{export_type}", j, {"conversations": db}, copy))
    got = read_part(runs)

    report = REPORTS[export_type]
    ctx = ReportContext(ExportRequest.from_params(request), AS_OF, Directory(directory),
                        lambda c: contacts.get(c, NONE))
    expected = shard_part(report, ctx, store_states(report, {"conversations": db}))
    assert len(expected) > 1
    assert got == orjson.loads(orjson.dumps(expected))
    assert merge_parts(report, ctx, [got]) == merge_parts(report, ctx, [expected]), "the same rows after JSON"
    assert os.listdir(directory_) == ["part.json"], "the checkpoints are gone"


def test_a_failing_scan_process_says_why_and_leaves_nothing(tmp_path, simulated, stores):
    db, copy, processes = stores
    bad = {**job(simulated[1]), "report": "no_such_report"}
    with pytest.raises(RuntimeError, match="export scan process failed: KeyError: 'no_such_report'"):
        asyncio.run(processes.scan("t-1", bad, {"conversations": db}, copy))
    assert os.listdir(tmp_path / "scans") == []


def test_a_cancelled_scan_stops_its_process(tmp_path, monkeypatch):
    marker = f"import time; time.sleep(60)  # {tmp_path}"
    monkeypatch.setattr(scan_process, "HELPER", [sys.executable, "-c", marker])

    async def scenario():
        task = asyncio.ensure_future(ScanProcesses(str(tmp_path / "scans"), limit=1, min_keys=0).run(str(tmp_path), job({})))
        while not _helpers(marker):
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert _helpers(marker) == [], "the helper was killed and reaped"


def _helpers(marker: str) -> list[str]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def test_a_helper_stays_up_between_scans_and_ends_when_the_worker_closes_it(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, processes = stores
    j = {**job(directory), "url_template": ReportContext.__dataclass_fields__["url_template"].default}
    expected = expected_lines(values, directory, contacts)

    async def scenario():
        pids = []
        for name in ("t-a", "t-b"):
            _, runs = await processes.scan(name, j, {"conversations": db}, copy)
            assert list(merge_lines([[item for run, item in read_runs(runs) if run == r] for r, _ in runs])) == expected
            pids.append([h.proc.pid for h in processes.idle])
        helper = processes.idle[0]
        await processes.close()
        return pids, helper.proc.returncode, processes.idle

    pids, returncode, idle = asyncio.run(scenario())
    assert pids[0] == pids[1] and len(pids[0]) == 1, "the second scan ran on the first scan's helper"
    assert returncode == 0 and idle == [], "a closed stdin ends the helper"


def test_a_helper_that_dies_says_why_and_is_not_used_again(tmp_path, monkeypatch):
    script = "import sys; sys.stdin.readline(); print('ran out of memory', file=sys.stderr); sys.exit(3)"
    monkeypatch.setattr(scan_process, "HELPER", [sys.executable, "-c", script])
    processes = ScanProcesses(str(tmp_path / "scans"), limit=1, min_keys=0)

    async def scenario():
        with pytest.raises(RuntimeError, match="^export scan process failed: ran out of memory$"):
            await processes.run(str(tmp_path), job({}))
        return processes.idle

    assert asyncio.run(scenario()) == []


def test_a_helper_gives_freed_memory_back_after_each_job(tmp_path, monkeypatch):
    given_back = []
    monkeypatch.setattr(scan_process.heap, "give_back", lambda: given_back.append(True))
    requests = [orjson.dumps({"job": {"report": "no_such_report"}, "directory": str(tmp_path)})] * 2
    answers = tmp_path / "answers"
    with open(answers, "wb") as out:
        scan_process.serve(requests, out)
    lines = answers.read_bytes().splitlines()
    assert [orjson.loads(line)["error"] for line in lines] == ["KeyError: 'no_such_report'"] * 2
    assert len(given_back) == 2, "memory is given back once after every job, failed ones too"


def test_a_helper_started_ahead_scans_first_and_no_more_than_the_limit_start(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, processes = stores  # at most one helper
    j = {**job(directory), "url_template": ReportContext.__dataclass_fields__["url_template"].default}

    async def scenario():
        await processes.warm()
        await processes.warm()  # a second shard of the same export catching up
        warmed = [h.proc.pid for h in processes.idle]
        _, runs = await processes.scan("t-w", j, {"conversations": db}, copy)
        lines = list(merge_lines([[item for run, item in read_runs(runs) if run == r] for r, _ in runs]))
        used = [h.proc.pid for h in processes.idle]
        await processes.close()
        return warmed, used, lines, processes.helpers

    warmed, used, lines, left = asyncio.run(scenario())
    assert len(warmed) == 1 and used == warmed, "the scan ran on the helper started ahead of it"
    assert lines == expected_lines(values, directory, contacts)
    assert left == 0


def test_a_helper_leaves_what_its_imports_made_out_of_its_collections():
    """The collection after each job looks only at what the scans made, not at the imports' objects."""
    script = ("import gc; from convoflow.streams import scan_process as s\n"
              "s.serve = lambda requests, answers: answers.write(str(gc.get_freeze_count()).encode())\n"
              "s.main([])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert int(done.stdout) > 10_000, "the imports' objects are frozen before the first job"


def test_a_helper_deletes_the_checkpoints_it_scanned_and_keeps_its_runs(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, _ = stores
    scans = tmp_path / "job"
    scans.mkdir()
    checkpoint(db, str(scans / "conversations"))
    copy.checkpoint(str(scans / scan_process.CONTACTS))
    answers = tmp_path / "answers"
    with open(answers, "wb") as out:
        scan_process.serve([orjson.dumps({"job": job(directory), "directory": str(scans)})], out)
    runs = orjson.loads(answers.read_bytes())["runs"]
    assert runs and sorted(os.listdir(scans)) == sorted(os.path.basename(p) for _, p in runs)


def test_the_scans_of_one_export_share_one_checkpoint_of_the_contacts(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, processes = stores
    j = {**job(directory), "url_template": ReportContext.__dataclass_fields__["url_template"].default}
    made = []

    class Counted:
        def checkpoint(self, path):
            made.append(path)
            copy.checkpoint(path)

    async def scenario():
        first = await asyncio.gather(*(processes.scan(f"e1-{p}", j, {"conversations": db}, Counted(), export="e1")
                                       for p in range(3)))
        left = sorted(os.listdir(tmp_path / "scans"))
        await processes.scan("e2-0", j, {"conversations": db}, Counted(), export="e2")
        await processes.close()
        return first, left

    first, left = asyncio.run(scenario())
    expected = expected_lines(values, directory, contacts)
    for _, runs in first:  # every scan read the identifiers (a spreadsheet-unsafe one among them)
        assert list(merge_lines([[item for run, item in read_runs(runs) if run == r] for r, _ in runs])) == expected
    assert [os.path.basename(p) for p in made] == ["e1-contacts-copy", "e2-contacts-copy"], "one per export"
    assert left == ["e1-0", "e1-1", "e1-2"], "the export's copy goes once its last scan is done"


def test_a_large_merge_is_split_by_key_range_across_the_helpers(tmp_path, simulated, stores):
    """Two helpers scan two halves of a partition; their runs, merged by both helpers at once, one key
    range each, make the file the whole merge makes, and nothing else is left."""
    values, directory, contacts = simulated
    db, copy, _ = stores
    processes = ScanProcesses(str(tmp_path / "scans"), limit=2, min_keys=0)

    async def scenario():
        runs = []
        for name in ("t-0", "t-1"):
            _, made = await processes.scan(name, job(directory), {"conversations": db}, copy, export="t")
            runs += [path for _, path in made]
        whole = tmp_path / "whole.csv"
        whole.write_text("h\r\n")
        files = [open(p, "rb") for p in runs]
        with open(whole, "a", encoding="utf-8", newline="") as f:
            f.write("".join(merge_lines(scan_process.read_run(run) for run in files)))
        split = tmp_path / "split.csv"
        split.write_text("h\r\n")
        count = await processes.merge(runs, str(split))
        helpers = processes.helpers
        await processes.close()
        return whole.read_bytes(), split.read_bytes(), count, helpers

    whole, split, count, helpers = asyncio.run(scenario())
    assert split == whole and count == len(whole.split(b"\r\n")) - 2 > 100
    assert helpers == 2
    assert not [name for name in os.listdir(tmp_path) if name.startswith("split.csv.")], "no segment is left"


def test_a_failing_split_merge_says_why_and_leaves_no_segment(tmp_path):
    processes = ScanProcesses(str(tmp_path / "scans"), limit=2, min_keys=0)
    runs = [tmp_path / "run-0.jsonl", tmp_path / "run-1.jsonl"]
    runs[0].write_bytes(b"".join(b'[["a%03d"],"a\\r\\n"]\n' % i for i in range(100)))
    runs[1].write_bytes(b"".join(b'[["b%03d"],%d]\n' % (i, i) for i in range(100)))  # a line that is no text
    out = tmp_path / "out.csv"
    out.write_bytes(b"")

    async def scenario():
        try:
            await processes.merge([str(r) for r in runs], str(out))
        finally:
            await processes.close()

    with pytest.raises(RuntimeError, match="export scan process failed: TypeError"):
        asyncio.run(scenario())
    assert sorted(os.listdir(tmp_path)) == ["out.csv", "run-0.jsonl", "run-1.jsonl"]


def test_helpers_that_waited_too_long_for_a_job_end_and_the_next_scan_starts_one(tmp_path, simulated, stores):
    values, directory, contacts = simulated
    db, copy, _ = stores
    processes = ScanProcesses(str(tmp_path / "idle"), limit=2, min_keys=0, idle_seconds=30)
    j = {**job(directory), "url_template": ReportContext.__dataclass_fields__["url_template"].default}

    async def scenario():
        await processes.warm()
        await processes.warm()
        old, recent = processes.idle
        old.idle_since -= 31
        ended_first = await processes.end_idle()
        first = (ended_first, old.proc.returncode, processes.idle == [recent], processes.helpers)
        ended_all = await processes.end_idle(time.monotonic() + 30)
        second = (ended_all, recent.proc.returncode, list(processes.idle), processes.helpers)
        _, runs = await processes.scan("t-i", j, {"conversations": db}, copy)
        lines = list(merge_lines([[item for run, item in read_runs(runs) if run == r] for r, _ in runs]))
        third = (len(processes.idle), processes.helpers, await processes.end_idle())
        await processes.close()
        return first, second, lines, third

    first, second, lines, third = asyncio.run(scenario())
    assert first == (1, 0, True, 1), "the helper idle for 31 s ended (its stdin closed), the other stays"
    assert second == (1, 0, [], 0)
    assert lines == expected_lines(values, directory, contacts), "a scan after they ended starts a helper"
    assert third == (1, 1, 0), "a helper that just scanned stays up"
