"""Scheduled exports on a real worker: every ended period once, equal to an export of it; nothing twice after a restart."""
import asyncio
import json
import os
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from convoflow.tools import simulate
from convoflow.contract.topics import partitions_of
from convoflow.tables import schedule as rules
from tests.integration.harness import Deployment, problems_in_log

SCHEDULES = [
    {"export_type": "agent_metrics", "every": "daily", "time_zone": "Europe/Amsterdam", "since": "3d"},
    {"export_type": "conversations_resolved", "every": "daily", "time_zone": "UTC", "since": "2d",
     "channels": ["ch-1", "ch-2"], "name": "resolved-utc"},
]


def start_with_schedules(d: Deployment):
    saved = {k: os.environ.get(k) for k in ("CONVOFLOW_SCHEDULES", "CONVOFLOW_SCHEDULE_INTERVAL")}
    os.environ["CONVOFLOW_SCHEDULES"] = json.dumps(SCHEDULES)
    os.environ["CONVOFLOW_SCHEDULE_INTERVAL"] = "1"
    try:
        return d.start_worker()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def expected(now_us: int):
    """(schedule, period, path) of every period due now, computed by the same rules."""
    out = []
    for s in rules.parse_schedules(json.dumps(SCHEDULES)):
        for p in rules.due(s, now_us, lambda path: False):
            out.append((s, p, rules.relative_path(s, p)))
    return out


def wait_for_files(d: Deployment, paths, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all((d.export_dir / p).is_file() for p in paths):
            return
        time.sleep(0.2)
    missing = [p for p in paths if not (d.export_dir / p).is_file()]
    raise AssertionError(f"scheduled files missing after {timeout:.0f} s: {missing}\n{d.logs()[-3000:]}")


async def read_topic(settings, name: str) -> list[tuple[str, dict]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, settings.topic(name))
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out = []
        while any([await consumer.position(tp) < ends[tp] for tp in tps]):
            for records in (await consumer.getmany(timeout_ms=500)).values():
                out += [(r.key.decode(), orjson.loads(r.value)) for r in records]
        return out
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
def scheduled(broker, tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("schedule"), partitions=4)
    today = datetime.now(timezone.utc).date()
    start = (today - timedelta(days=4)).isoformat()
    events = simulate.generate(seed=17, agents=6, teams=2, conversations=120, days=5, start=f"{start}T00:00:00Z")
    d.publish(events)  # before any worker runs: the periods that ended meanwhile are caught up at start
    now_us = int(time.time() * 1_000_000)
    start_with_schedules(d)
    due = expected(now_us)
    wait_for_files(d, [path for _, _, path in due])
    yield d, due
    d.stop()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


def test_every_ended_period_is_exported_once_into_its_file(scheduled):
    d, due = scheduled
    assert len([1 for s, _, _ in due if s.export_type == "agent_metrics"]) == 3
    assert len([1 for s, _, _ in due if s.export_type == "conversations_resolved"]) == 2
    for s, period, path in due:
        result, body = d.export(s.export_type, s.time_zone, period.date_from, period.date_to,
                                channels=list(s.channels) or None, as_of=rules.rfc3339(period.end_us))
        assert result["status"] == "completed", result
        assert (d.export_dir / path).read_bytes() == body, path
    names = sorted(p.relative_to(d.export_dir).as_posix() for p in (d.export_dir / "scheduled").rglob("*") if p.is_file())
    assert names == sorted(path for _, _, path in due)
    assert all(n.startswith(("scheduled/agent_metrics/agent_metrics_", "scheduled/resolved-utc/conversations_resolved_"))
               for n in names)
    status, body = d.workers[0].get("/exports?format=json")
    listed = json.loads(body)["schedules"]
    assert [x["export_type"] for x in listed] == ["agent_metrics", "conversations_resolved"] and listed[0]["leader"]


def test_a_restart_produces_no_period_twice(scheduled):
    d, due = scheduled
    files = {path: (d.export_dir / path) for _, _, path in due}
    before = {path: (f.read_bytes(), f.stat().st_mtime_ns) for path, f in files.items()}
    d.workers[0].stop()
    lost = due[0][2]
    files[lost].unlink()  # lost while the worker was down: it comes back, from the first result
    start_with_schedules(d)
    wait_for_files(d, [lost])
    time.sleep(3)  # a few scheduler ticks (every second here)
    for path, f in files.items():
        assert f.read_bytes() == before[path][0], path
        if path != lost:
            assert f.stat().st_mtime_ns == before[path][1], f"{path} was written again"
    results = asyncio.run(read_topic(d.settings, "export-results"))
    runs = Counter(key for key, r in results if key.startswith("sched-") and r["status"] == "running")
    assert sorted(runs) == sorted(rules.request_id(s, p) for s, p, _ in due)
    assert set(runs.values()) == {1}, f"a period was exported twice: {runs}"
    requests = Counter(key for key, _ in asyncio.run(read_topic(d.settings, "export-requests")) if key.startswith("sched-"))
    assert all(n <= 2 for n in requests.values()) and len(requests) == len(due)
    assert not [p for p in d.export_dir.glob("sched-*.csv") if p.stem not in runs]
