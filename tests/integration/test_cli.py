"""The real ``convoflow`` command against the real broker: export without a worker says so in one line;
a simulated file is validated, published and exported with the command line alone; a dry run sends nothing."""
from __future__ import annotations

import asyncio
import csv
import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer

from tests.integration.harness import BROKER

CONVOFLOW = Path(sys.executable).with_name("convoflow")


def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    return subprocess.run([str(CONVOFLOW), *args], capture_output=True, timeout=timeout, env=environ)


async def topic_records(topic: str) -> list:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=BROKER.split("://", 1)[-1], auto_offset_reset="earliest",
                                group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        return [r for records in batches.values() for r in records]
    finally:
        await consumer.stop()


async def topic_names() -> set[str]:
    consumer = AIOKafkaConsumer(bootstrap_servers=BROKER.split("://", 1)[-1])
    await consumer.start()
    try:
        return await consumer.topics()
    finally:
        await consumer.stop()


def test_export_without_a_worker_says_so_in_one_line(broker):
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    proc = run("export", "--broker", BROKER, "--topic-prefix", prefix, "--type", "teams", "--tz", "UTC",
               "--from", "2024-07-15", "--to", "2024-07-15", "--request-id", "nobody-home", "--no-worker-timeout", "2")
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines() == [f"convoflow: error: no worker answered on {prefix}export-requests: "
                                         "is a worker running with the same --topic-prefix?"]
    # it did ask: the request is on the control topic
    records = asyncio.run(topic_records(f"{prefix}export-requests"))
    assert [(r.key, orjson.loads(r.value)["export_type"]) for r in records] == [(b"nobody-home", "teams")]


def test_a_dry_run_sends_nothing(broker, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}-"
    path = tmp_path / "sim.jsonl"
    assert run("simulate", "--conversations", "5", "--days", "1", "--out", str(path)).returncode == 0
    proc = run("publish", "--dry-run", "--broker", BROKER, "--topic-prefix", prefix, str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    assert f"{prefix}messages: " in proc.stdout.decode()
    assert not [t for t in asyncio.run(topic_names()) if t.startswith(prefix)]


def test_simulate_validate_publish_export_with_the_command_line(deployment, tmp_path):
    d = deployment
    d.start_worker()
    common = ["--broker", BROKER, "--topic-prefix", d.prefix, "--partitions", str(d.partitions)]
    path = tmp_path / "sim.jsonl"
    proc = run("simulate", "--seed", "5", "--conversations", "40", "--days", "1", "--out", str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    lines = path.read_bytes().count(b"\n")

    proc = run("validate", str(path))
    assert proc.returncode == 0, proc.stdout.decode()[-2000:]
    assert proc.stdout.decode().splitlines()[-1] == f"{lines} valid, 0 rejected ({lines} lines)"

    proc = run("publish", *common, "--quiet", str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    assert f"published {lines}, rejected locally 0" in proc.stdout.decode()

    out = tmp_path / "resolved.csv"
    export = ["export", *common, "--type", "conversations_resolved", "--tz", "UTC", "--from", "2024-07-15",
              "--to", "2024-07-16", "--as-of", "2024-07-17T00:00:00Z", "--request-id", "cli-resolved"]
    proc = run(*export, "--out", str(out))
    assert proc.returncode == 0, proc.stderr.decode()
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0][0] == "Conversation ID" and len(rows) > 1
    assert proc.stdout.decode().strip() == f"{len(rows) - 1} rows -> {out}"
    assert "cli-resolved: completed" in proc.stderr.decode()

    # The worker refuses a request id used before with other parameters: one line, exit 1.
    export[export.index("--to") + 1] = "2024-07-15"
    proc = run(*export, "--out", str(tmp_path / "again.csv"))
    err = proc.stderr.decode()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("convoflow: error: export failed: request_id cli-resolved was already "
                                            "used with different parameters")
