"""The real ``convoflow`` command: bad input is one line ``convoflow: error: ...`` and exit 2, never a
traceback; --version; help for every option; validate, publish --dry-run and schema, all without a broker.

Every command here gets ``--broker kafka://127.0.0.1:1`` where it takes one: nothing listens there, so a
command that reached for the broker before checking its input would say so instead of the expected line.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from convoflow.contract import schema
from convoflow.cli import build_parser
from convoflow.contract.export_types import EXPORT_TYPES

CONVOFLOW = Path(sys.executable).with_name("convoflow")
NOWHERE = "kafka://127.0.0.1:1"
EXPORT = ["export", "--broker", NOWHERE, "--type", "messages", "--tz", "UTC", "--from", "2024-07-15", "--to",
          "2024-07-16"]

GOOD = {"event_id": "e1", "type": "message.deleted", "occurred_at": "2024-07-18T09:17:00Z", "message_id": "m-1",
        "conversation_id": "c-1"}
PRESENCE = {"event_id": "e2", "type": "presence.changed", "occurred_at": "2024-07-18T09:17:00Z", "agent_id": "a-1",
            "state": "AWAY"}


def run(*args: str, env: dict | None = None, stdin: bytes | None = None, cwd=None) -> subprocess.CompletedProcess:
    assert CONVOFLOW.exists(), f"no {CONVOFLOW}: install the package (make install)"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    return subprocess.run([str(CONVOFLOW), *args], capture_output=True, input=stdin, timeout=120, cwd=cwd,
                          env={**environ, **(env or {})})


def one_error_line(proc: subprocess.CompletedProcess, status: int = 2) -> str:
    err = proc.stderr.decode()
    assert "Traceback" not in err, err
    assert proc.returncode == status, (proc.returncode, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("convoflow: error: "), lines[0]
    return lines[0]


@pytest.mark.parametrize("args,expected", [
    (["simulate", "--conversations", "-5"], "argument --conversations: must be a whole number of at least 0, got '-5'"),
    (["simulate", "--start", "yesterday"], "argument --start: 'yesterday' is not a date-time"),
    (["simulate", "--start", "9999-12-30T00:00:00Z"], "simulated days must lie between"),
    (["simulate", "--out", "/nonexistent/x.jsonl"], "--out /nonexistent/x.jsonl: cannot write: No such file"),
    (["simulate", "--days", "0"], "argument --days: must be a whole number of at least 1, got '0'"),
    (["simulate", "--agents", "many"], "argument --agents: must be a whole number of at least 1, got 'many'"),
    (["simulate", "--duplicates", "2"], "argument --duplicates: must be a number from 0 to 1, got '2'"),
    (["simulate", "--seed", "x"], "argument --seed: invalid int value: 'x'"),
    (["worker", "--broker", NOWHERE, "--data-dir", "/proc/nope"], "--data-dir /proc/nope: cannot create the directory"),
    (["worker", "--broker", NOWHERE, "--web-port", "70000"], "argument --web-port: must be a whole number from 1 to 65535"),
    (["worker", "--loglevel", "loud"], "argument --loglevel: invalid choice: 'loud'"),
    (["simulate", "--publish", "--broker", "kafka://127.0.0.1:notaport"],
     "argument --broker: 'kafka://127.0.0.1:notaport' is not a broker address such as kafka://127.0.0.1:9092"),
    (["publish", "--broker", "http://127.0.0.1:9092", "x"], "argument --broker: 'http://127.0.0.1:9092' is not"),
    (["export", "--topic-prefix", "acme/prod!", "--broker", NOWHERE], "argument --topic-prefix: must be at most 200"),
    (["publish", "--broker", NOWHERE, "/nonexistent/events.jsonl"], "cannot open /nonexistent/events.jsonl"),
    (["publish", "--broker", NOWHERE, "--show-rejected", "-1", "x"], "argument --show-rejected"),
    (["validate", "/nonexistent/events.jsonl"], "cannot open /nonexistent/events.jsonl"),
    (["schema", "message.sent"], "unknown event type 'message.sent'; expected one of message.created"),
    (["teleport"], "argument COMMAND: invalid choice: 'teleport'"),
    ([], "the following arguments are required: COMMAND"),
    (["simulate", "--colour", "red"], "unrecognized arguments: --colour red"),
    (["export", "--type", "messages"], "the following arguments are required: --tz, --from, --to"),
])
def test_bad_arguments_are_one_line_and_exit_2(args, expected):
    line = one_error_line(run(*args))
    assert expected in line


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "state").write_text("")
    assert "--data-dir" in one_error_line(run("worker", "--broker", NOWHERE, "--data-dir", str(tmp_path / "state")))


@pytest.mark.parametrize("env,args,expected", [
    ({"CONVOFLOW_PARTITIONS": "abc"}, ["simulate", "--conversations", "1"],
     "CONVOFLOW_PARTITIONS='abc' (the default of --partitions): must be a whole number of at least 1"),
    ({"CONVOFLOW_TOPIC_PREFIX": "a b"}, ["publish", "--dry-run", "x"],
     "CONVOFLOW_TOPIC_PREFIX='a b' (the default of --topic-prefix): must be at most 200 characters"),
    ({"CONVOFLOW_WEB_PORT": "99999"}, ["worker", "--broker", NOWHERE],
     "CONVOFLOW_WEB_PORT='99999' (the default of --web-port): must be a whole number from 1 to 65535"),
])
def test_a_bad_environment_default_of_an_option_is_one_line(env, args, expected):
    assert expected in one_error_line(run(*args, env=env))


@pytest.mark.parametrize("change,expected", [
    ({"--type": "message"}, "unknown export_type 'message'; expected one of conversations_resolved"),
    ({"--tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"--from": "15-07-2024"}, "date_from must be a date YYYY-MM-DD, got '15-07-2024'"),
    ({"--to": "2024-02-30"}, "date_to is not a real date: 2024-02-30"),
    ({"--from": "2024-07-17"}, "date_from 2024-07-17 is after date_to 2024-07-16"),
    ({"--from": "2022-01-01"}, "the range spans 928 days; at most 366 are allowed"),
    ({"--channel": ""}, "channels must be a list of channel ids"),
    ({"--as-of": "tomorrow"}, "as_of is not a valid RFC 3339 timestamp"),
    ({"--request-id": "../etc/passwd"}, "request_id must be 1-64 characters of A-Z a-z 0-9 _ -"),
    ({"--request-id": ""}, "request_id must be 1-64 characters"),
    ({"--request-id": "x" * 65}, "request_id must be 1-64 characters"),
    ({"--out": "/nonexistent/out.csv"}, "--out /nonexistent/out.csv: cannot write: no directory /nonexistent"),
    ({"--timeout": "0"}, "argument --timeout: must be a number of seconds above 0"),
    ({"--no-worker-timeout": "soon"}, "argument --no-worker-timeout: must be a number of seconds above 0"),
])
def test_export_checks_its_request_before_it_asks(change, expected):
    args = list(EXPORT)
    for flag, value in change.items():
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    assert expected in one_error_line(run(*args))


def test_an_unreachable_broker_is_one_line():
    line = one_error_line(run(*EXPORT), status=2)
    assert f"cannot connect to Kafka at {NOWHERE}" in line


def test_version():
    proc = run("--version")
    assert proc.returncode == 0
    assert proc.stdout.decode().strip() == f"convoflow {schema_version()}"


def schema_version() -> str:
    from importlib.metadata import version

    return version("convoflow")


def subcommands() -> dict:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sub.choices


@pytest.mark.parametrize("command", ["worker", "publish", "export", "simulate", "validate", "schema"])
def test_every_option_has_help_with_its_default_and_environment_variable(command):
    parser = subcommands()[command]
    text = parser.format_help()
    for action in parser._actions:
        if action.dest == "help":
            continue
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"
        takes_value = action.nargs != 0
        if action.option_strings and takes_value and not action.required:
            assert "default" in action.help, f"{command} {action.option_strings} shows no default"
    for env in ("CONVOFLOW_BROKER", "CONVOFLOW_TOPIC_PREFIX", "CONVOFLOW_PARTITIONS"):
        assert (f"${env}" in text) == (command not in ("validate", "schema")), (command, env)
    if command == "worker":
        for env in ("CONVOFLOW_DATA_DIR", "CONVOFLOW_EXPORT_DIR", "CONVOFLOW_WEB_PORT", "CONVOFLOW_WEB_HOST"):
            assert f"${env}" in text


def test_the_workers_options_default_to_the_settings_defaults(monkeypatch):
    from convoflow.args import resolve_env_defaults
    from convoflow.cli import _settings
    from convoflow.contract.config import Settings

    names = ("broker", "topic_prefix", "partitions", "data_dir", "export_dir", "web_port", "web_host")
    for env in ("CONVOFLOW_BROKER", "CONVOFLOW_TOPIC_PREFIX", "CONVOFLOW_PARTITIONS", "CONVOFLOW_DATA_DIR",
                "CONVOFLOW_EXPORT_DIR", "CONVOFLOW_WEB_PORT", "CONVOFLOW_WEB_HOST"):
        monkeypatch.delenv(env, raising=False)
    args = subcommands()["worker"].parse_args([])
    resolve_env_defaults(args)
    declared = Settings()
    assert {n: getattr(args, n) for n in names} == {n: getattr(declared, n) for n in names}
    assert _settings(args).partitions == 12, "new deployments get 12 partitions (docs/operations.md)"


def test_export_type_help_lists_the_twelve_types():
    proc = run("export", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.decode().split())
    assert len(EXPORT_TYPES) == 12
    for export_type in EXPORT_TYPES:
        assert export_type in text


# --------------------------------------------------------------------------
# validate, publish --dry-run, schema


def jsonl(*items) -> bytes:
    return b"".join((orjson.dumps(i) if not isinstance(i, bytes) else i) + b"\n" for i in items)


MIXED = jsonl(GOOD, b"", {**GOOD, "event_id": "e3", "occurred_at": "2024-02-30T10:00:00Z"}, b"not json", PRESENCE,
              {**PRESENCE, "event_id": "e4", "state": "away"}, {"type": "message.teleported"},
              {**GOOD, "event_id": ""})


def test_validate_lists_each_rejected_line_and_counts_per_type(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(MIXED)
    proc = run("validate", str(path))
    assert proc.returncode == 1, proc.stderr.decode()
    out = proc.stdout.decode().splitlines()
    assert out[1].startswith("line 4: value is not valid JSON: ")
    assert out[:1] + out[2:5] == [
        "line 3: invalid occurred_at '2024-02-30T10:00:00Z': day 30 out of range for 2024-02",
        "line 6: field 'state' must be one of AVAILABLE, AWAY, OFFLINE, got 'away'",
        "line 7: missing required field 'event_id'",
        "line 8: field 'event_id' must be a non-empty id, got ''",
    ]
    assert "message.deleted: 1 valid, 2 rejected" in out
    assert "presence.changed: 1 valid, 1 rejected" in out
    assert out[-1] == "2 valid, 5 rejected (8 lines)"
    assert proc.stderr == b""


def test_validate_gives_the_reasons_the_worker_dead_letters_with(tmp_path):
    from convoflow.contract.events import TYPE_TOPIC, Rejected, parse_record

    path = tmp_path / "events.jsonl"
    path.write_bytes(MIXED)
    out = run("validate", str(path)).stdout.decode()
    compared = 0
    for no, line in enumerate(MIXED.split(b"\n"), 1):
        event = orjson.loads(line) if line.startswith(b"{") else None
        if event is None or event.get("type") not in TYPE_TOPIC:
            continue
        try:
            parse_record(TYPE_TOPIC[event["type"]], line)  # what the worker does with it on its topic
        except Rejected as exc:
            assert f"line {no}: {exc.reason}\n" in out
            compared += 1
    assert compared == 3


def test_validate_accepts_a_clean_gzip_file_and_stdin(tmp_path):
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(jsonl(GOOD, PRESENCE)))
    proc = run("validate", str(path))
    assert proc.returncode == 0, proc.stdout.decode()
    assert proc.stdout.decode().splitlines()[-1] == "2 valid, 0 rejected (2 lines)"
    proc = run("validate", "-", stdin=b"\xef\xbb\xbf" + jsonl(GOOD))  # a byte-order mark, as publish takes it
    assert proc.returncode == 0 and proc.stdout.decode().splitlines()[-1] == "1 valid, 0 rejected (1 lines)"


def test_validate_show_rejected_limits_the_list(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(MIXED)
    out = run("validate", str(path), "--show-rejected", "2").stdout.decode().splitlines()
    assert out[2] == "... and 3 more"


def test_publish_dry_run_needs_no_broker(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_bytes(MIXED)
    proc = run("publish", "--dry-run", "--broker", NOWHERE, "--topic-prefix", "acme-", str(path))
    assert proc.returncode == 0, proc.stderr.decode()
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert "acme-messages: 3\nacme-presence: 2\n" in out
    assert "line 4: not published: invalid JSON" in err
    assert "line 7: not published: unknown event type 'message.teleported'" in err
    assert "line 6: the worker would reject it: field 'state' must be one of AVAILABLE, AWAY, OFFLINE" in err
    assert "line 8: the worker would reject it: field 'event_id' must be a non-empty id" in err
    assert out.splitlines()[-1] == ("dry run: would publish 5, rejected locally 2, of the published the worker "
                                    "would reject 3 (8 lines; nothing was sent)")
    assert run("publish", "--dry-run", "--strict", "--broker", NOWHERE, str(path)).returncode == 1
    clean = tmp_path / "clean.jsonl"
    clean.write_bytes(jsonl(GOOD, PRESENCE))
    assert run("publish", "--dry-run", "--strict", "--broker", NOWHERE, str(clean)).returncode == 0


def test_schema_prints_the_shipped_files():
    proc = run("schema")
    assert proc.returncode == 0 and json.loads(proc.stdout) == schema.load()
    proc = run("schema", "csat.answered")
    assert proc.returncode == 0
    printed = json.loads(proc.stdout)
    assert printed == schema.load("csat.answered")
    assert printed["properties"]["score"]["type"] == ["integer", "null"]


def test_a_reader_that_goes_away_ends_the_output_quietly():
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    proc = subprocess.Popen([str(CONVOFLOW), "simulate", "--conversations", "300"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=environ)
    assert proc.stdout.readline().startswith(b"{")
    proc.stdout.close()  # as `convoflow simulate | head -1` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err
    assert err == ""
