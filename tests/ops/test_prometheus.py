"""The alert rules, the Prometheus configuration and the Grafana dashboard of ops/, checked with Prometheus's
own `promtool` (Debian's `prometheus` package: installed here when missing, where apt-get can, else skipped
with the reason). That their metric names are the ones a worker exposes is checked against a real worker's
/metrics in tests/integration/test_metrics.py."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.ops.queries import (ALERTS, ALERTS_TEST, OPS, PROMETHEUS_CONFIG, alert_expressions, dashboard_queries,
                               metric_names)
from tests.tools import run_tool

COMPOSE = OPS.parent / "docker" / "compose.yaml"




@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool's path; apt-get installs Debian's prometheus package (which has it) when missing."""
    found = shutil.which("promtool")
    if found:
        return found
    if not (shutil.which("apt-get") and os.geteuid() == 0):
        pytest.skip("needs promtool (Debian's prometheus package): not installed, and apt-get is unavailable or not root")
    ok, out = run_tool(["apt-get", "update", "-qq"], 600)
    if ok:
        ok, out = run_tool(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"], 900)
    found = shutil.which("promtool")
    if not found:
        pytest.skip(f"needs promtool: apt-get install prometheus failed: {out[-400:]}")
    return found


def test_alert_rules_pass_their_unit_tests(promtool):
    ok, out = run_tool([promtool, "test", "rules", str(ALERTS_TEST)], 120)
    assert ok and "SUCCESS" in out, out


def test_every_alert_has_unit_tests_that_see_it_fire():
    alerts = re.findall(r"^\s*- alert: (\S+)", ALERTS.read_text(), re.M)
    assert {"ConvoflowConsumerLagGrowing", "ConvoflowDeadLetters", "ConvoflowExportFailures",
            "ConvoflowWorkerWithoutPartitions", "ConvoflowRecoveryStuck"} <= set(alerts)
    tests = ALERTS_TEST.read_text()
    for alert in alerts:
        # at least one evaluation of it that expects an alert (exp_alerts followed by an item)
        assert re.search(rf"alertname: {alert}\n\s+exp_alerts:\n\s+- exp_labels:", tests), alert


def test_prometheus_config_and_its_rules_are_valid(promtool):
    ok, out = run_tool([promtool, "check", "config", str(PROMETHEUS_CONFIG)], 60)
    assert ok and "alerts.yml" in out, out


def test_dashboard_queries_are_valid_promql(promtool, tmp_path: Path):
    queries = dashboard_queries()
    assert len(queries) >= 10
    rules = ["groups:", "  - name: dashboard", "    rules:"]
    for i, (title, expr) in enumerate(queries):
        assert metric_names(expr) or expr.startswith("sum(up{"), f"{title}: reads no convoflow metric: {expr}"
        rules += [f"      - record: dashboard:query_{i}", f"        expr: '{expr.replace(chr(39), chr(39) * 2)}'"]
    path = tmp_path / "dashboard_rules.yml"
    path.write_text("\n".join(rules) + "\n")
    ok, out = run_tool([promtool, "check", "rules", str(path)], 60)
    assert ok and f"SUCCESS: {len(queries)} rules found" in out, out


def test_alert_expressions_read_convoflow_metrics():
    names = set().union(*(metric_names(e) for e in alert_expressions()))
    assert {"convoflow_consumer_lag", "convoflow_dead_letters_total", "convoflow_exports_total",
            "convoflow_assigned_partitions", "convoflow_recovery_in_progress"} <= names


def test_compose_provisions_prometheus_grafana_and_worker_healthchecks():
    text = COMPOSE.read_text()
    mounted = re.findall(r"^\s+- (\.\./ops/[^:]+):", text, re.M)
    assert {"../ops/prometheus/prometheus.yml", "../ops/prometheus/alerts.yml",
            "../ops/grafana/dashboards"} <= set(mounted)
    for path in mounted:
        assert (COMPOSE.parent / path).exists(), path
    assert re.search(r"^  prometheus:\n", text, re.M) and re.search(r"^  grafana:\n", text, re.M)
    # the healthcheck sits in the settings both workers merge, and asks /health
    anchor = text.split("x-worker: &worker", 1)[1].split("\nservices:", 1)[0]
    assert "healthcheck:" in anchor and "/health" in anchor
    datasource = (OPS / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    assert "uid: convoflow-prometheus" in datasource and "http://prometheus:9090" in datasource
