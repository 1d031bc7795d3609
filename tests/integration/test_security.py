"""Kafka security end to end, on a second local broker whose only client listener is SASL_SSL
(SCRAM-SHA-512, a certificate signed by a CA the test makes): a worker, ``convoflow publish`` and
``convoflow export`` work over it, every Kafka client of the worker included (the broker has no other
listener for clients), and settings the broker refuses are one line and exit status 2."""
from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from convoflow.tools import simulate
from tests.integration.harness import Deployment, cell_diff, problems_in_log
from tests.integration.secure_broker import SecureBroker, make_ca
from tests.reference import model

START, FIRST, LAST, AS_OF = "2024-07-15T00:00:00Z", "2024-07-15", "2024-07-16", "2024-07-17T00:00:00Z"


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    broker = SecureBroker(tmp_path_factory.mktemp("sasl-ssl-broker"))
    try:
        broker.start()
    except RuntimeError as exc:
        broker.stop()
        pytest.fail(str(exc))
    yield broker
    broker.stop()


def cli(*args: str, env: dict, cwd, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "convoflow.cli", *args], env={**os.environ, **env}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def test_worker_publish_and_export_over_sasl_ssl(secure, tmp_path):
    events = simulate.generate(seed=3, agents=6, teams=2, conversations=60, days=2, start=START)
    source = tmp_path / "events.jsonl"
    source.write_bytes(b"".join(simulate.iter_jsonl(events)))
    d = Deployment(tmp_path, partitions=2, env=secure.env, broker=secure.url)
    try:
        worker = d.start_worker()
        where = ("--topic-prefix", d.prefix, "--partitions", "2")
        published = cli("publish", str(source), "--quiet", *where, env=secure.env, cwd=tmp_path)
        assert published.returncode == 0, published.stderr
        assert f"published {len(events)}, rejected locally 0" in published.stdout

        for export_type in ("conversations_resolved", "agent_metrics"):
            out = tmp_path / f"{export_type}.csv"
            done = cli("export", *where, "--type", export_type, "--tz", "Europe/Amsterdam", "--from", FIRST, "--to", LAST,
                       "--as-of", AS_OF, "--request-id", f"secure-{export_type}", "--out", str(out), "--timeout", "180",
                       env=secure.env, cwd=tmp_path)
            assert done.returncode == 0, done.stderr
            expected = model.report(events, export_type, "Europe/Amsterdam", FIRST, LAST, as_of=AS_OF)
            assert expected.count(b"\r\n") > 1, "an empty report proves nothing"
            assert out.read_bytes() == expected, cell_diff(expected, out.read_bytes())

        # The worker's results reader (a plain consumer) saw them too.
        status, body = worker.get("/exports/status/secure-agent_metrics")
        assert status == 200 and orjson.loads(body)["status"] == "completed"
    finally:
        d.stop()
    assert "Authenticated as convoflow via SCRAM-SHA-512" in d.logs()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


REFUSED = ("refused the credentials of SASL_SSL as 'convoflow' with SCRAM-SHA-512", "CONVOFLOW_KAFKA_SASL_PASSWORD")
COMMANDS = {
    "publish": ("publish", "-", "--quiet"),
    "export": ("export", "--type", "messages", "--tz", "UTC", "--from", FIRST, "--to", LAST, "--timeout", "30"),
    "worker": ("worker", "--data-dir", "data", "--export-dir", "exports", "--web-port", "1"),
}


@pytest.mark.parametrize("command, change, said", [
    ("publish", {"CONVOFLOW_KAFKA_SASL_PASSWORD": "wrong"}, REFUSED),
    ("export", {"CONVOFLOW_KAFKA_SASL_PASSWORD": "wrong"}, REFUSED),
    ("worker", {"CONVOFLOW_KAFKA_SASL_PASSWORD": "wrong"}, REFUSED),
    ("publish", {"CONVOFLOW_KAFKA_SASL_USERNAME": "nobody"}, ("refused the credentials of SASL_SSL as 'nobody'",)),
    ("publish", {"CONVOFLOW_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"},
     ("does not accept CONVOFLOW_KAFKA_SASL_MECHANISM=SCRAM-SHA-256",)),
    ("publish", {"CONVOFLOW_KAFKA_SSL_CAFILE": "OTHER_CA"}, ("certificate is not trusted", "CONVOFLOW_KAFKA_SSL_CAFILE")),
    ("worker", {"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"},
     ("cannot connect to Kafka", "(PLAINTEXT)", "does the listener use this security protocol?")),
])
def test_settings_the_broker_refuses_are_one_line_and_exit_2(secure, tmp_path, command, change, said):
    if change.get("CONVOFLOW_KAFKA_SSL_CAFILE") == "OTHER_CA":
        change = {"CONVOFLOW_KAFKA_SSL_CAFILE": str(make_ca(tmp_path, "other-ca"))}
    done = cli(*COMMANDS[command], env={**secure.env, **change}, cwd=tmp_path, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("convoflow: error: "), done.stderr
    assert all(part in lines[0] for part in said), lines[0]
