"""Settings shared by the worker and the command-line tools; environment variables are the defaults.

Each setting is declared once, as a field of ``Settings``: its variable, its default, what it accepts
and what it means. A value read from the environment is checked when ``Settings()`` is made, so a bad
one is a ``ConfigError`` naming the variable, the value and what is expected. The table of settings in
docs/operations.md is generated from these declarations (``python -m convoflow.contract.config --write
docs/operations.md``) and a test checks that it is current.
"""
from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field, fields
from typing import Any, Callable

from convoflow.contract import catalog
from convoflow.contract.events import TOPICS

INTERNAL_TOPICS = catalog.names(catalog.INTERNAL)
CONTROL_TOPICS = catalog.names(catalog.CONTROL)
SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
FETCH_BYTES_PER_TOPIC = 3 << 20  # a worker's fetches of one topic's partitions together (partition_fetch_bytes)


class ConfigError(ValueError):
    """A setting that cannot work; the command says so in one line and exits with status 2."""


# ------------------------------------------------------------------ what a setting accepts


@dataclass(frozen=True)
class Kind:
    """What a setting accepts (``expected``, said in errors and in the table) and how its text becomes its value."""

    expected: str
    convert: Callable[[str], Any]

    def __call__(self, raw: str) -> Any:
        """The value of ``raw``; ValueError when it is not one this kind accepts."""
        return self.convert(raw)


def _at_least(value, least):
    if not (math.isfinite(value) and value >= least):
        raise ValueError(value)
    return value


def whole(least: int = 0, most: int | None = None) -> Kind:
    def convert(raw: str) -> int:
        value = _at_least(int(raw.strip()), least)
        if most is not None and value > most:
            raise ValueError(value)
        return value

    return Kind(f"a whole number from {least} to {most}" if most is not None else f"a whole number, at least {least}",
                convert)


def number(least: float = 0, scale: float = 1, unit: str = "") -> Kind:
    """A decimal number of at least ``least``; the value is the number times ``scale``."""
    return Kind(f"a number{unit}, at least {least:g}", lambda raw: _at_least(float(raw.strip()), least) * scale)


def one_of(*choices: str) -> Kind:
    def convert(raw: str) -> str:
        value = raw.strip().upper()
        if value not in choices:
            raise ValueError(raw)
        return value

    return Kind(", ".join(choices[:-1]) + " or " + choices[-1], convert)


def _broker_url(raw: str) -> str:
    for address in raw.replace(";", ",").split(","):
        scheme, _, hostport = address.strip().rpartition("://")
        has_port = ":" in hostport and not hostport.endswith("]")  # none: 9092 ([::1] is a host)
        host, port = hostport.rsplit(":", 1) if has_port else (hostport, "")
        if scheme not in ("", "kafka", "aiokafka") or not host or has_port and not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError(raw)
    return raw.strip()


def _file_or_empty(raw: str) -> str:
    if raw and not os.path.isfile(raw):
        raise ValueError(raw)
    return raw


def _not_empty(raw: str) -> str:
    if not raw.strip():
        raise ValueError(raw)
    return raw


def _flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(raw)


TEXT = Kind("any text", str)
FLAG = Kind("1, true, yes or on; or 0, false, no, off or empty", _flag)


def _optional_count(raw: str) -> str:
    text = raw.strip()
    if text and not (text.isdigit() and int(text) >= 1):
        raise ValueError(raw)
    return text


OPTIONAL_COUNT = Kind("empty, or a whole number, at least 1", _optional_count)
NAME = Kind("any text, not empty", _not_empty)
BROKER = Kind("kafka://HOST:PORT (the port defaults to 9092), several separated by commas", _broker_url)
PORT = whole(1, 65535)
FILE = Kind("empty, or a file that exists", _file_or_empty)


@dataclass(frozen=True)
class Setting:
    """One setting: its environment variable, default (as written in the environment), kind and meaning."""

    var: str
    default: str | Callable[[], str]
    kind: Kind
    meaning: str
    shown: str = ""  # the default as the table says it, when it is computed

    def read(self, environ=os.environ) -> Any:
        raw = environ.get(self.var)
        if raw is None:
            raw = self.default() if callable(self.default) else self.default
        try:
            return self.kind(raw)
        except (ValueError, TypeError, OverflowError):
            raise ConfigError(f"{self.var}={raw!r} is not valid: expected {self.kind.expected}") from None

    @property
    def default_text(self) -> str:
        if self.shown:
            return self.shown
        return f"`{self.default}`" if self.default else "empty"


def setting(var: str, default: str | Callable[[], str], kind: Kind, meaning: str, shown: str = ""):
    """A ``Settings`` field read from ``var`` when not given; its declaration is its row in the settings table."""
    spec = Setting(var, default, kind, meaning, shown)
    return field(default_factory=spec.read, metadata={"setting": spec})


def _cores() -> str:
    return str(os.cpu_count() or 1)


# ------------------------------------------------------------------ the settings


@dataclass
class Settings:
    # One declaration per setting: field = setting(variable, default as text, what it accepts, meaning).
    broker: str = setting("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092", BROKER, "Kafka bootstrap servers (`--broker`)")
    topic_prefix: str = setting(
        "CONVOFLOW_TOPIC_PREFIX", "", TEXT,
        "prefix of every topic and of the consumer group, so that deployments can share a broker (`--topic-prefix`)")
    partitions: int = setting(
        "CONVOFLOW_PARTITIONS", "12", whole(1), "partitions of the topics convoflow creates (`--partitions`)")
    data_dir: str = setting("CONVOFLOW_DATA_DIR", "data", NAME, "a worker's local RocksDB state (`--data-dir`)")
    export_dir: str = setting(
        "CONVOFLOW_EXPORT_DIR", "exports", NAME, "where a worker writes CSV files (`--export-dir`)")
    web_port: int = setting("CONVOFLOW_WEB_PORT", "6066", PORT, "a worker's HTTP port (`--web-port`)")
    web_host: str = setting(
        "CONVOFLOW_WEB_HOST", "127.0.0.1", NAME, "the name other workers reach a worker's HTTP port by (`--web-host`)")
    web_bind: str = setting(
        "CONVOFLOW_WEB_BIND", "127.0.0.1", NAME, "the interface a worker's HTTP port listens on")
    web_url: str = setting(
        "CONVOFLOW_WEB_URL", "http://127.0.0.1:6066", NAME,
        "a worker's address, where `convoflow export` downloads a file it cannot read locally (`--web-url`)")
    url_template: str = setting(
        "CONVOFLOW_URL_TEMPLATE", "https://app.convoflow.local/conversations/{conversation_id}", TEXT,
        "the Conversation URL column; `{conversation_id}` is replaced")
    export_timeout: float = setting(
        "CONVOFLOW_EXPORT_TIMEOUT", "300", number(1, unit=" of seconds"),
        "how long each step of an export (a shard's scan, a scheduled export) may take before it fails")
    batch_size: int = setting(
        "CONVOFLOW_BATCH_SIZE", "40000", whole(1),
        "most events an agent applies at once (a bundle of updates, which the people and contacts agents read, counts for 400)")
    # Each key of a batch is read and written once: a longer wait writes less.
    batch_linger: float = setting(
        "CONVOFLOW_BATCH_LINGER_MS", "50", number(0, 1 / 1000, " of milliseconds"),
        "how long an agent waits for a batch to fill: a longer wait writes less and adds that much latency")
    schedules: str = setting(
        "CONVOFLOW_SCHEDULES", "", TEXT,
        "scheduled exports, JSON (see Scheduled exports); a bad one is logged and runs none")
    schedule_file: str = setting(
        "CONVOFLOW_SCHEDULE_FILE", "", TEXT, "a file with more scheduled exports, the same JSON")
    schedule_interval: float = setting(
        "CONVOFLOW_SCHEDULE_INTERVAL", "60", number(0.1, unit=" of seconds"), "how often the scheduler looks for ended periods")
    dashboard_cache_seconds: float = setting(
        "CONVOFLOW_DASHBOARD_CACHE", "1", number(0, unit=" of seconds"), "how long the dashboard reuses one answer")
    # One RocksDB cache for all the stores of a worker, with the write buffers charged to it.
    rocksdb_cache_mb: int = setting(
        "CONVOFLOW_ROCKSDB_CACHE_MB", "256", whole(2),
        "RocksDB memory of a worker, all its tables and partitions together: one cache")
    rocksdb_write_buffers_mb: int = setting(
        "CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB", "128", whole(1),
        "the most of that cache the write buffers take; less than the cache")
    malloc_trim_seconds: float = setting(
        "CONVOFLOW_MALLOC_TRIM_SECONDS", "2", number(0, unit=" of seconds"),
        "how often a worker hands the C heap's free pages back to the system (glibc `malloc_trim`, in a "
        "thread); 0: never")
    # convoflow.streams.scan_process: a partition of fewer keys (RocksDB's estimate) is scanned in the worker.
    export_processes: int = setting(
        "CONVOFLOW_EXPORT_PROCESSES", _cores, whole(0),
        "most export scans of large partitions that run in processes of their own at once, "
        "so that a large export uses every core; 0: all in the worker", shown="the number of cores")
    export_process_min_keys: int = setting(
        "CONVOFLOW_EXPORT_PROCESS_MIN_KEYS", "5000", whole(0),
        "least keys of a partition (in all the tables an export reads, each counted as often as the report's cost "
        "per key: 12 for `messages`, 2 for `agent_responses`) whose scan gets a process of its own")
    export_merge_split_mb: int = setting(
        "CONVOFLOW_EXPORT_MERGE_SPLIT_MB", "4", whole(0),
        "least size of a row export's sorted runs (MB) whose merge into the CSV file is split by key range "
        "across the export processes; 0: always, when there are two or more")
    export_helper_idle_seconds: float = setting(
        "CONVOFLOW_EXPORT_HELPER_IDLE_SECONDS", "30", number(1, unit=" of seconds"),
        "how long an export process waits for its next scan before it ends (each holds some 35 MB at rest); "
        "the next export that needs one starts it again, in about 0.1 s")
    api_token: str = setting(
        "CONVOFLOW_API_TOKEN", "", TEXT, "when set, every HTTP request needs `Authorization: Bearer <token>`")
    # Kafka security, passed to Faust and to every plain aiokafka client (kafka_kwargs, faust_credentials).
    kafka_security_protocol: str = setting(
        "CONVOFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", one_of(*SECURITY_PROTOCOLS),
        "how every Kafka client connects: TLS (`SSL`), SASL, both, or neither")
    kafka_sasl_mechanism: str = setting(
        "CONVOFLOW_KAFKA_SASL_MECHANISM", "PLAIN", one_of(*SASL_MECHANISMS),
        "the SASL mechanism, with `SASL_PLAINTEXT` or `SASL_SSL`")
    kafka_sasl_username: str = setting("CONVOFLOW_KAFKA_SASL_USERNAME", "", TEXT, "the SASL user; needed with SASL")
    kafka_sasl_password: str = setting(
        "CONVOFLOW_KAFKA_SASL_PASSWORD", "", TEXT, "the SASL user's password; needed with SASL")
    kafka_ssl_cafile: str = setting(
        "CONVOFLOW_KAFKA_SSL_CAFILE", "", FILE,
        "PEM file of the CAs that sign the brokers' certificates, with `SSL` or `SASL_SSL`; empty: the system's")

    standby_replicas: int = setting(
        "CONVOFLOW_STANDBY_REPLICAS", "1", whole(0),
        "standby copies of each table partition, kept warm on other workers (Faust's `table_standby_replicas`); "
        "a partition moves to a joining worker once its copy there has caught up")
    stale_partition_hours: float = setting(
        "CONVOFLOW_STALE_PARTITION_HOURS", "24", number(0, unit=" of hours"),
        "how long a worker keeps the local copy of a table partition it no longer holds (as active or "
        "standby) before it deletes it; checked every minute, more often for less than ten minutes")
    replication_factor: str = setting(
        "CONVOFLOW_REPLICATION_FACTOR", "", OPTIONAL_COUNT,
        "replicas of every topic convoflow creates, changelogs included, each with `min.insync.replicas` of one "
        "less (at least 1); empty: 3, or every broker when the cluster has fewer", shown="3, or the brokers there are")
    allow_low_replication: bool = setting(
        "CONVOFLOW_ALLOW_LOW_REPLICATION", "", FLAG,
        "an existing topic with fewer replicas than that is a warning at start instead of a refusal")

    @classmethod
    def from_environ(cls, environ, **given) -> "Settings":
        """The settings of another environment (a mapping of variables), with ``given`` values as they are."""
        read = {f.name: f.metadata["setting"].read(environ) for f in fields(cls)
                if "setting" in f.metadata and f.name not in given}
        return cls(**read, **given)

    def rocksdb_memory(self) -> tuple[int, int]:
        """(cache bytes, write buffer bytes) for ``convoflow.streams.state.memory``'s budget."""
        if not 0 < self.rocksdb_write_buffers_mb < self.rocksdb_cache_mb:
            raise ConfigError(f"CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB ({self.rocksdb_write_buffers_mb}) must be at least 1 "
                              f"and less than CONVOFLOW_ROCKSDB_CACHE_MB ({self.rocksdb_cache_mb}), which holds it")
        return self.rocksdb_cache_mb << 20, self.rocksdb_write_buffers_mb << 20

    def partition_fetch_bytes(self) -> int:
        """What a fetch asks of each partition: ``FETCH_BYTES_PER_TOPIC`` over the topics' partitions,
        from 128 to 512 KiB (512 KiB at 4 partitions, 256 KiB at 12). A larger fetch lets a batch fold
        more events of each conversation; a worker holding every partition holds about this much of
        each topic in fetched records (docs/performance.md, "Fetch size")."""
        return max(128 << 10, min(512 << 10, FETCH_BYTES_PER_TOPIC // max(self.partitions, 1)))

    def malloc_trim_every(self) -> float:
        if not self.malloc_trim_seconds >= 0:
            raise ConfigError(f"CONVOFLOW_MALLOC_TRIM_SECONDS ({self.malloc_trim_seconds}) must be 0 (never) or more")
        return self.malloc_trim_seconds

    def export_process_limits(self) -> tuple[int, int, int, float]:
        """(processes at once, least keys of a partition, least bytes of a split merge, seconds an idle
        process stays up) for ``convoflow.streams.scan_process.ScanProcesses``."""
        if self.export_processes < 0:
            raise ConfigError(f"CONVOFLOW_EXPORT_PROCESSES ({self.export_processes}) must be 0 (never) or more")
        if self.export_process_min_keys < 0:
            raise ConfigError(f"CONVOFLOW_EXPORT_PROCESS_MIN_KEYS ({self.export_process_min_keys}) must be 0 or more")
        if self.export_merge_split_mb < 0:
            raise ConfigError(f"CONVOFLOW_EXPORT_MERGE_SPLIT_MB ({self.export_merge_split_mb}) must be 0 or more")
        return (self.export_processes, self.export_process_min_keys, self.export_merge_split_mb << 20,
                self.export_helper_idle_seconds)

    def stale_partition_seconds(self) -> float:
        """CONVOFLOW_STALE_PARTITION_HOURS in seconds."""
        if not self.stale_partition_hours >= 0:
            raise ConfigError(f"CONVOFLOW_STALE_PARTITION_HOURS ({self.stale_partition_hours}) must be 0 or more")
        return self.stale_partition_hours * 3600

    def wanted_replication(self) -> int | None:
        """CONVOFLOW_REPLICATION_FACTOR as a number, None when unset (convoflow.contract.topics picks it)."""
        if not self.replication_factor.strip():
            return None
        if not self.replication_factor.strip().isdigit() or int(self.replication_factor) < 1:
            raise ConfigError(f"CONVOFLOW_REPLICATION_FACTOR must be a whole number of at least 1, not {self.replication_factor!r}")
        return int(self.replication_factor)

    def kafka_kwargs(self) -> dict:
        """Connection settings for aiokafka clients (security protocol, SASL, SSL)."""
        protocol = self.kafka_security_protocol.upper()
        if protocol not in SECURITY_PROTOCOLS:
            raise ConfigError(f"CONVOFLOW_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not {protocol!r}")
        kwargs: dict = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            mechanism = self.kafka_sasl_mechanism.upper()
            if mechanism not in SASL_MECHANISMS:
                raise ConfigError(f"CONVOFLOW_KAFKA_SASL_MECHANISM must be {SETTINGS['CONVOFLOW_KAFKA_SASL_MECHANISM'].kind.expected}, "
                                  f"not {self.kafka_sasl_mechanism!r}")
            if not (self.kafka_sasl_username and self.kafka_sasl_password):
                raise ConfigError(f"CONVOFLOW_KAFKA_SECURITY_PROTOCOL={protocol} needs CONVOFLOW_KAFKA_SASL_USERNAME "
                                  "and CONVOFLOW_KAFKA_SASL_PASSWORD")
            kwargs.update(sasl_mechanism=mechanism, sasl_plain_username=self.kafka_sasl_username,
                          sasl_plain_password=self.kafka_sasl_password)
        if protocol.endswith("SSL"):
            kwargs["ssl_context"] = self.ssl_context()
        return kwargs

    def ssl_context(self):
        from aiokafka.helpers import create_ssl_context

        cafile = self.kafka_ssl_cafile or None
        if cafile is not None and not os.path.isfile(cafile):
            raise ConfigError(f"CONVOFLOW_KAFKA_SSL_CAFILE {cafile}: no such file")
        try:
            return create_ssl_context(cafile=cafile)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
            raise ConfigError(f"CONVOFLOW_KAFKA_SSL_CAFILE {cafile}: not a usable CA file ({exc})") from None

    def faust_credentials(self):
        """Faust's broker_credentials for the same settings (None for PLAINTEXT)."""
        import faust

        kwargs = self.kafka_kwargs()
        protocol = kwargs["security_protocol"]
        if protocol == "PLAINTEXT":
            return None
        if protocol == "SSL":
            return faust.SSLCredentials(kwargs["ssl_context"])
        return faust.SASLCredentials(
            username=self.kafka_sasl_username, password=self.kafka_sasl_password, mechanism=kwargs["sasl_mechanism"],
            ssl_context=kwargs.get("ssl_context"),
        )

    def describe_connection(self) -> str:
        """How clients connect, for messages: the protocol, and the SASL user and mechanism when used."""
        protocol = self.kafka_security_protocol.upper()
        if protocol.startswith("SASL"):
            return f"{protocol} as {self.kafka_sasl_username!r} with {self.kafka_sasl_mechanism.upper()}"
        return protocol

    @property
    def bootstrap(self) -> str:
        """host:port list for plain aiokafka clients (the broker URL without its scheme)."""
        return ",".join(u.split("://", 1)[-1] for u in self.broker.split(";") for u in u.split(","))

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}convoflow"

    def input_topics(self) -> list[str]:
        return [self.topic(t) for t in TOPICS]

    def all_topics(self) -> list[str]:
        return [self.topic(t) for t in TOPICS + INTERNAL_TOPICS + CONTROL_TOPICS]


# Every setting by its variable, in declaration order.
SETTINGS: dict[str, Setting] = {f.metadata["setting"].var: f.metadata["setting"] for f in fields(Settings)
                                if "setting" in f.metadata}


# ------------------------------------------------------------------ the table in docs/operations.md

BEGIN, END = "<!-- settings:begin -->", "<!-- settings:end -->"


def markdown_table() -> str:
    """The settings table of docs/operations.md, one row per setting."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| variable | default | accepts | meaning |", "|---|---|---|---|"]
    for s in SETTINGS.values():
        lines.append(f"| `{s.var}` | {cell(s.default_text)} | {cell(s.kind.expected)} | {cell(s.meaning)} |")
    return "\n".join(lines) + "\n"


def with_table(document: str) -> str:
    """``document`` with the text between the settings markers replaced by the current table."""
    head, begin, rest = document.partition(BEGIN)
    _, end, tail = rest.partition(END)
    if not (begin and end):
        raise ConfigError(f"no {BEGIN} ... {END} markers")
    return f"{head}{BEGIN}\n{markdown_table()}{END}{tail}"


def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m convoflow.contract.config",
                                     description="Print or update the table of convoflow's settings.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--markdown", action="store_true", help="print the table (Markdown)")
    group.add_argument("--write", metavar="DOC", help="replace the table between the settings markers of DOC")
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(markdown_table())
        return 0
    try:
        with open(args.write, encoding="utf-8") as f:
            text = f.read()
        updated = with_table(text)
    except (OSError, ConfigError) as exc:
        print(f"error: {args.write}: {exc}", file=sys.stderr)
        return 2
    if updated != text:
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
