"""Backfill with `convoflow publish` (gzip, progress, summary), then /metrics scraped and parsed as Prometheus text."""
import gzip
import os
import subprocess
import sys
from collections import Counter

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from convoflow.tools import simulate
from convoflow.contract.events import TOPICS, TYPE_TOPIC
from tests.integration.harness import Deployment, problems_in_log

BAD_LINES = [b"{not json", b"[1, 2, 3]", b'{"type": "message.teleported", "conversation_id": "x"}']
# Routable (type and key) but against the contract: the worker sends them to dead-letters.
CONTRACT_VIOLATIONS = [
    {"event_id": "dl-1", "type": "message.created", "occurred_at": "2024-07-15T10:00:00Z", "conversation_id": "dl-c1"},
    {"event_id": "dl-2", "type": "presence.changed", "occurred_at": "yesterday", "agent_id": "a-1", "state": "AVAILABLE"},
]


@pytest.fixture(scope="module")
def metrics_deployment(broker, tmp_path_factory):
    d = Deployment(tmp_path_factory.mktemp("metrics"), partitions=4)
    d.start_worker()
    yield d
    d.stop()
    problems = problems_in_log(d.logs())
    assert not problems, "worker logged errors:\n" + "\n".join(problems[:20])


def scrape(worker) -> dict:
    """{(sample name, ((label, value), ...)): value}, parsed by prometheus_client's text parser."""
    status, body = worker.get("/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(scope="module")
def backfilled(metrics_deployment, tmp_path_factory):
    d = metrics_deployment
    events = simulate.generate(seed=9, agents=5, teams=2, conversations=60, days=2)
    lines = [orjson.dumps(e) for e in events]
    lines[10:10] = BAD_LINES + [b""]  # lines 11, 12, 13 rejected locally; 14 blank
    lines += [orjson.dumps(e) for e in CONTRACT_VIOLATIONS]
    path = tmp_path_factory.mktemp("backfill") / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    cli = subprocess.run([sys.executable, "-m", "convoflow.cli", "publish", str(path), "--broker", d.settings.broker,
                          "--topic-prefix", d.prefix, "--partitions", str(d.partitions)],
                         capture_output=True, timeout=120, env={**os.environ})
    assert cli.returncode == 0, cli.stderr.decode()
    result, _ = d.export("messages", "UTC", "2024-07-15", "2024-07-16")  # read-your-writes: all processed after it
    assert result["status"] == "completed", result
    return d, events, cli


def test_publish_reads_gzip_and_reports_lines_progress_and_summary(backfilled):
    d, events, cli = backfilled
    out, err = cli.stdout.decode(), cli.stderr.decode()
    per_topic = Counter(TYPE_TOPIC[e["type"]] for e in events + CONTRACT_VIOLATIONS)
    for topic, n in per_topic.items():
        assert f"{d.prefix}{topic}: {n}\n" in out
    total = len(events) + len(CONTRACT_VIOLATIONS)
    assert f"published {total}, rejected locally 3 ({total + 4} lines" in out
    assert "line 11: not published: invalid JSON" in err
    assert "line 12: not published: not a JSON object" in err
    assert "line 13: not published: unknown event type 'message.teleported'" in err
    assert "100.0%" in err and "lines/s" in err and "MB/s" in err  # the progress line
    assert "Traceback" not in err


def test_metrics_in_prometheus_text_format(backfilled):
    d, events, _ = backfilled
    w = d.workers[0]
    samples = scrape(w)

    accepted = Counter((d.prefix + TYPE_TOPIC[e["type"]], e["type"]) for e in events)
    got = {(dict(l)["topic"], dict(l)["type"]): v for (n, l), v in samples.items() if n == "convoflow_events_total"}
    assert got == accepted

    dead = {dict(l)["reason"]: v for (n, l), v in samples.items() if n == "convoflow_dead_letters_total"}
    assert sum(dead.values()) == len(CONTRACT_VIOLATIONS) and all(dead)

    lag = {(dict(l)["topic"], dict(l)["partition"]): v for (n, l), v in samples.items() if n == "convoflow_consumer_lag"}
    for topic in TOPICS:  # every input partition is reported, and caught up after the export
        for p in range(d.partitions):
            assert lag[(d.prefix + topic, str(p))] == 0, (topic, p)
    ends = {k: v for (n, l), v in samples.items() if n == "convoflow_consumer_end_offset" for k in [tuple(sorted(dict(l).items()))]}
    assert sum(ends.values()) >= len(events)

    keys = {dict(l)["partition"]: v for (n, l), v in samples.items()
            if n == "convoflow_table_keys" and dict(l)["table"] == "conversations"}
    assert sorted(keys) == ["0", "1", "2", "3"] and sum(keys.values()) >= 60
    memory = Counter()
    for (n, l), v in samples.items():
        if n == "convoflow_table_memory_bytes":
            memory[dict(l)["table"], dict(l)["kind"]] += v
    assert memory[("conversations", "memtables")] > 0, "the conversations just written are in the write buffers"
    assert set(kind for _, kind in memory) == {"memtables", "table_readers"}
    shared = {dict(l)["kind"]: v for (n, l), v in samples.items() if n == "convoflow_rocksdb_memory_bytes"}
    assert shared["cache_capacity"] == 256 * 1024 * 1024
    assert 0 < shared["write_buffers"] <= shared["cache_usage"], "the stores' write buffers are charged to the one cache"

    assert samples[("convoflow_exports_total", (("export_type", "messages"), ("status", "completed")))] == 1
    histogram = {dict(l)["le"]: v for (n, l), v in samples.items()
                 if n == "convoflow_export_duration_seconds_bucket" and dict(l)["export_type"] == "messages"}
    assert histogram["+Inf"] == 1 and list(histogram.values()) == sorted(histogram.values())
    assert samples[("convoflow_export_duration_seconds_count", (("export_type", "messages"),))] == 1

    assert samples[("convoflow_recovery_done", ())] == 1 and samples[("convoflow_recovery_in_progress", ())] == 0
    assert samples[("convoflow_rebalances_total", ())] >= 1
    assert samples[("convoflow_assigned_partitions", ())] == 4
    assert samples[("convoflow_replica_entries", (("kind", "directory"),))] > 0
    assert samples[("convoflow_up", ())] == 1


def test_one_readable_line_per_rebalance_and_recovery(backfilled):
    d, _, _ = backfilled
    log = d.logs()
    assert "rebalance: partitions [0, 1, 2, 3] assigned; restoring tables" in log
    assert "recovery done in" in log and "processing partitions [0, 1, 2, 3]" in log
    assert "export " in log and " rows in " in log  # the one line per export
    assert "Traceback" not in log


def test_alert_rules_and_grafana_dashboard_read_metrics_a_worker_exposes(backfilled):
    """Every convoflow_* name in ops/prometheus/alerts.yml and ops/grafana/dashboards/convoflow.json is declared
    by a real worker's /metrics (names from its # TYPE lines: nothing to keep in step by hand)."""
    from tests.ops.queries import alert_expressions, dashboard_queries, exposed_names, metric_names

    d, _, _ = backfilled
    status, body = d.workers[0].get("/metrics")
    assert status == 200
    exposed = exposed_names(body.decode())
    assert "convoflow_events_total" in exposed and "convoflow_export_duration_seconds_bucket" in exposed
    used = {name: where for where, expr in dashboard_queries() for name in metric_names(expr)}
    used.update({name: "alerts.yml" for expr in alert_expressions() for name in metric_names(expr)})
    assert len(used) >= 12
    missing = {name: where for name, where in used.items() if name not in exposed}
    assert not missing, f"not exposed by /metrics: {missing}"
