"""The PromQL that ships in ops/: the alert rules' and the Grafana dashboard's expressions, and the metric names in them."""
from __future__ import annotations

import json
import re
from pathlib import Path

OPS = Path(__file__).resolve().parents[2] / "ops"
ALERTS = OPS / "prometheus" / "alerts.yml"
ALERTS_TEST = OPS / "prometheus" / "alerts_test.yml"
PROMETHEUS_CONFIG = OPS / "prometheus" / "prometheus.yml"
DASHBOARD = OPS / "grafana" / "dashboards" / "convoflow.json"

# Grafana's own variables, as Prometheus would get them
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
METRIC = re.compile(r"\bconvoflow_[a-z0-9_]+")
RECORDED = re.compile(r"^\s*- record: (\S+)", re.M)


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every target of the dashboard, Grafana's variables filled in."""
    out = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((panel["title"], expr))
    return out


def alert_expressions() -> list[str]:
    """The expr of every rule of alerts.yml (each is one line there)."""
    return re.findall(r"^\s*expr: (.+)$", ALERTS.read_text(), re.M)


def metric_names(expr: str) -> set[str]:
    """convoflow_* metric names an expression reads (recording rules' names, convoflow:..., excluded)."""
    return set(METRIC.findall(expr))


def exposed_names(text: str) -> set[str]:
    """The sample names a /metrics body declares (# TYPE lines; a histogram's _bucket, _sum and _count)."""
    names = set()
    for name, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M):
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
    return names
