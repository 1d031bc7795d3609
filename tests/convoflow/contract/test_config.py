"""Settings: declared once, checked when read (one line, exit 2), documented by a generated table."""
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from convoflow.contract import config
from convoflow.cli import main
from convoflow.contract.config import ConfigError, Settings


def test_rocksdb_memory_defaults_and_environment(monkeypatch):
    assert Settings().rocksdb_memory() == (256 << 20, 128 << 20)
    monkeypatch.setenv("CONVOFLOW_ROCKSDB_CACHE_MB", "512")
    monkeypatch.setenv("CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB", "64")
    assert Settings().rocksdb_memory() == (512 << 20, 64 << 20)


@pytest.mark.parametrize("cache, write_buffers", [(256, 0), (256, 256), (128, 200)])
def test_write_buffers_must_fit_in_the_cache_that_holds_them(cache, write_buffers):
    with pytest.raises(ConfigError, match="CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB"):
        Settings(rocksdb_cache_mb=cache, rocksdb_write_buffers_mb=write_buffers).rocksdb_memory()


def test_malloc_trim_interval_defaults_environment_and_bounds(monkeypatch):
    assert Settings().malloc_trim_every() == 2
    monkeypatch.setenv("CONVOFLOW_MALLOC_TRIM_SECONDS", "30")
    assert Settings().malloc_trim_every() == 30
    for bad in (-1, float("nan")):
        with pytest.raises(ConfigError, match="CONVOFLOW_MALLOC_TRIM_SECONDS"):
            Settings(malloc_trim_seconds=bad).malloc_trim_every()


def test_the_fetch_of_a_partition_shares_a_topic_budget_between_its_partitions():
    sizes = {n: Settings(partitions=n).partition_fetch_bytes() for n in (1, 4, 6, 8, 12, 24, 100)}
    assert sizes == {1: 512 << 10, 4: 512 << 10, 6: 512 << 10, 8: 384 << 10, 12: 256 << 10, 24: 128 << 10,
                     100: 128 << 10}
    assert Settings().partition_fetch_bytes() == 256 << 10, "the default 12 partitions"


def test_export_processes_default_to_the_cores_and_are_checked(monkeypatch):
    assert Settings().export_process_limits() == (os.cpu_count(), 5_000, 4 << 20, 30)
    monkeypatch.setenv("CONVOFLOW_EXPORT_PROCESSES", "0")  # never: every scan in the worker
    monkeypatch.setenv("CONVOFLOW_EXPORT_PROCESS_MIN_KEYS", "500")
    monkeypatch.setenv("CONVOFLOW_EXPORT_HELPER_IDLE_SECONDS", "2.5")
    assert Settings().export_process_limits() == (0, 500, 4 << 20, 2.5)
    with pytest.raises(ConfigError, match="CONVOFLOW_EXPORT_PROCESSES"):
        Settings(export_processes=-1).export_process_limits()
    with pytest.raises(ConfigError, match="CONVOFLOW_EXPORT_PROCESS_MIN_KEYS"):
        Settings(export_process_min_keys=-5).export_process_limits()
    with pytest.raises(ConfigError, match="CONVOFLOW_EXPORT_MERGE_SPLIT_MB"):
        Settings(export_merge_split_mb=-1).export_process_limits()


# ------------------------------------------------------------------ every setting declared, documented, checked

ROOT = Path(__file__).resolve().parents[3]
# The settings that take any text; every other one has a kind that rejects something.
FREE_TEXT = {"CONVOFLOW_TOPIC_PREFIX", "CONVOFLOW_URL_TEMPLATE", "CONVOFLOW_SCHEDULES", "CONVOFLOW_SCHEDULE_FILE",
             "CONVOFLOW_API_TOKEN", "CONVOFLOW_KAFKA_SASL_USERNAME", "CONVOFLOW_KAFKA_SASL_PASSWORD"}
CANDIDATES = ("10k", "four", "", "-1", "nan", "99999", "kafka://host:port", "/no/such/file.pem")


def bad_value(s: config.Setting) -> str:
    return next(v for v in CANDIDATES if not accepts(s, v))


def accepts(s: config.Setting, raw: str) -> bool:
    try:
        s.kind(raw)
        return True
    except ValueError:
        return False


def test_every_field_of_settings_is_a_declared_setting():
    names = [f.name for f in dataclasses.fields(config.Settings)]
    assert all("setting" in f.metadata for f in dataclasses.fields(config.Settings)), names
    assert len(config.SETTINGS) == len(names)  # no variable declared twice
    assert all(var.startswith("CONVOFLOW_") for var in config.SETTINGS)
    assert {var for var, s in config.SETTINGS.items() if s.kind is config.TEXT} == FREE_TEXT


def test_the_defaults_are_valid_and_are_what_an_empty_environment_gives():
    settings = config.Settings.from_environ({})
    for f in dataclasses.fields(config.Settings):
        s = f.metadata["setting"]
        assert getattr(settings, f.name) == s.kind(s.default() if callable(s.default) else s.default), s.var
    assert settings.broker == "kafka://127.0.0.1:9092" and settings.partitions == 12 and settings.batch_linger == 0.05


@pytest.mark.parametrize("var", sorted(set(config.SETTINGS) - FREE_TEXT))
def test_a_bad_value_names_the_variable_the_value_and_what_is_expected(monkeypatch, var):
    s = config.SETTINGS[var]
    bad = bad_value(s)
    monkeypatch.setenv(var, bad)
    with pytest.raises(config.ConfigError) as caught:
        config.Settings()
    assert str(caught.value) == f"{var}={bad!r} is not valid: expected {s.kind.expected}"


@pytest.mark.parametrize("var", sorted(set(config.SETTINGS) - FREE_TEXT))
def test_every_command_reports_a_bad_setting_in_one_line_with_status_2(monkeypatch, capsys, tmp_path, var):
    s = config.SETTINGS[var]
    monkeypatch.setenv(var, bad_value(s))
    assert main(["simulate", "--conversations", "1", "--out", str(tmp_path / "sim.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"convoflow: error: {var}="), err
    if var not in OPTION_DEFAULTS:  # an option's default is checked by the option's own type (convoflow.args)
        assert s.kind.expected in err, err


def test_options_given_win_over_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CONVOFLOW_PARTITIONS", "four")
    assert config.Settings(partitions=3).partitions == 3
    assert main(["simulate", "--conversations", "1", "--partitions", "2", "--out", str(tmp_path / "sim.jsonl")]) == 0
    monkeypatch.setenv("CONVOFLOW_PARTITIONS", "8")
    assert config.Settings().partitions == 8


# Settings that are also options: the option's type checks the variable too (convoflow.args).
OPTION_DEFAULTS = {"CONVOFLOW_BROKER", "CONVOFLOW_TOPIC_PREFIX", "CONVOFLOW_PARTITIONS", "CONVOFLOW_WEB_PORT"}


def test_a_bad_option_is_rejected_like_the_variable(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["worker", "--partitions", "0"])
    assert caught.value.code == 2
    assert "argument --partitions: must be a whole number of at least 1, got '0'" in capsys.readouterr().err


def test_kinds_accept_what_they_say():
    assert [config.FLAG(v) for v in ("1", "True", " yes", "on", "", "0", "false", "No", "OFF")] == [True] * 4 + [False] * 5
    assert config.whole(1)(" 12 ") == 12 and config.PORT("65535") == 65535
    assert config.number(0, 1 / 1000)("250") == 0.25
    assert config.one_of("PLAINTEXT", "SSL")("ssl") == "SSL"
    for kind, bad in ((config.FLAG, "maybe"), (config.whole(1), "1.5"), (config.PORT, "0"), (config.number(0), "inf"),
                      (config.NAME, "  "), (config.BROKER, "kafka://:9092"), (config.BROKER, "http://host:9092")):
        with pytest.raises(ValueError):
            kind(bad)


def test_sasl_needs_a_user_and_a_password():
    with pytest.raises(config.ConfigError, match="needs CONVOFLOW_KAFKA_SASL_USERNAME and CONVOFLOW_KAFKA_SASL_PASSWORD"):
        config.Settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u").kafka_kwargs()
    kwargs = config.Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-256",
                             kafka_sasl_username="u", kafka_sasl_password="p").kafka_kwargs()
    assert kwargs == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                      "sasl_plain_username": "u", "sasl_plain_password": "p"}


def test_an_unreachable_broker_is_one_line_with_status_2(capsys):
    assert main(["simulate", "--conversations", "1", "--publish", "--broker", "kafka://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("convoflow: error: cannot connect to Kafka at kafka://127.0.0.1:1 (PLAINTEXT): 127.0.0.1:1: "), err


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CONVOFLOW_")}
    return subprocess.run([sys.executable, "-m", "convoflow.cli", *args], env={**clean, **env}, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_bad_settings_stop_the_worker_in_one_line_and_never_stop_help():
    done = run_cli("worker", CONVOFLOW_BATCH_SIZE="10k")
    assert done.returncode == 2
    assert done.stderr == "convoflow: error: CONVOFLOW_BATCH_SIZE='10k' is not valid: expected a whole number, at least 1\n"
    for args in (("--help",), ("worker", "--help"), ("export", "--help")):
        done = run_cli(*args, CONVOFLOW_PARTITIONS="four")
        assert done.returncode == 0 and "usage: convoflow" in done.stdout and not done.stderr, done.stderr
    done = run_cli("publish", "-", CONVOFLOW_PARTITIONS="four")
    assert done.returncode == 2
    assert done.stderr == ("convoflow: error: CONVOFLOW_PARTITIONS='four' (the default of --partitions): "
                           "must be a whole number of at least 1, got 'four'\n")


# ------------------------------------------------------------------ the table in docs/operations.md


def test_the_settings_table_in_the_docs_is_the_generated_one():
    doc = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert doc.count(config.BEGIN) == 1 and doc.count(config.END) == 1
    assert config.with_table(doc) == doc, "run: python -m convoflow.contract.config --write docs/operations.md"
    last_section = doc.rsplit("\n## ", 1)[1]
    assert last_section.startswith("Settings\n") and config.BEGIN in last_section
    for var in config.SETTINGS:
        assert doc.count(f"| `{var}` |") == 1, var


def test_the_table_is_written_between_the_markers_only(tmp_path):
    doc = tmp_path / "ops.md"
    doc.write_text(f"# Ops\n\ntext\n\n{config.BEGIN}\nold table\n{config.END}\nafter\n")
    assert config.main(["--write", str(doc)]) == 0
    assert doc.read_text() == f"# Ops\n\ntext\n\n{config.BEGIN}\n{config.markdown_table()}{config.END}\nafter\n"
    (tmp_path / "plain.md").write_text("no markers\n")
    assert config.main(["--write", str(tmp_path / "plain.md")]) == 2
