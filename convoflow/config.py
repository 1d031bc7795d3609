"""Settings shared by the worker and the command-line tools; environment variables are the defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from convoflow.events import TOPICS

INTERNAL_TOPICS = ("contact-updates", "people-updates", "export-shards", "export-parts")
CONTROL_TOPICS = ("export-requests", "export-results", "dead-letters")


class ConfigError(ValueError):
    """A setting that cannot work; the command says so and exits."""


def env(name: str, default: str) -> str:
    return os.environ.get(name, default)


@dataclass
class Settings:
    broker: str = field(default_factory=lambda: env("CONVOFLOW_BROKER", "kafka://127.0.0.1:9092"))
    topic_prefix: str = field(default_factory=lambda: env("CONVOFLOW_TOPIC_PREFIX", ""))
    data_dir: str = field(default_factory=lambda: env("CONVOFLOW_DATA_DIR", "data"))
    export_dir: str = field(default_factory=lambda: env("CONVOFLOW_EXPORT_DIR", "exports"))
    web_port: int = field(default_factory=lambda: int(env("CONVOFLOW_WEB_PORT", "6066")))
    web_host: str = field(default_factory=lambda: env("CONVOFLOW_WEB_HOST", "127.0.0.1"))  # the name others reach it by
    web_bind: str = field(default_factory=lambda: env("CONVOFLOW_WEB_BIND", "127.0.0.1"))  # the interface it listens on
    partitions: int = field(default_factory=lambda: int(env("CONVOFLOW_PARTITIONS", "4")))
    url_template: str = field(
        default_factory=lambda: env("CONVOFLOW_URL_TEMPLATE", "https://app.convoflow.local/conversations/{conversation_id}")
    )
    batch_size: int = field(default_factory=lambda: int(env("CONVOFLOW_BATCH_SIZE", "10000")))
    # How long an agent waits for a batch to fill: each key of a batch is read and written once.
    batch_linger: float = field(default_factory=lambda: float(env("CONVOFLOW_BATCH_LINGER_MS", "50")) / 1000)
    # Operators (streams/schedule.py, streams/dashboard.py): scheduled exports as JSON or a JSON file,
    # how often the scheduler looks for ended periods, how long the dashboard reuses one answer.
    schedules: str = field(default_factory=lambda: env("CONVOFLOW_SCHEDULES", ""))
    schedule_file: str = field(default_factory=lambda: env("CONVOFLOW_SCHEDULE_FILE", ""))
    schedule_interval: float = field(default_factory=lambda: float(env("CONVOFLOW_SCHEDULE_INTERVAL", "60")))
    dashboard_cache_seconds: float = field(default_factory=lambda: float(env("CONVOFLOW_DASHBOARD_CACHE", "1")))
    # RocksDB memory of a worker, all its stores together: one cache, with the write buffers charged to it.
    rocksdb_cache_mb: int = field(default_factory=lambda: int(env("CONVOFLOW_ROCKSDB_CACHE_MB", "256")))
    rocksdb_write_buffers_mb: int = field(default_factory=lambda: int(env("CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB", "128")))
    # How often the worker gives the C heap's free pages back to the system (streams.memory); 0: never.
    malloc_trim_seconds: float = field(default_factory=lambda: float(env("CONVOFLOW_MALLOC_TRIM_SECONDS", "0")))
    # Row exports of large partitions: scanned by up to this many processes at once (streams.scan_process);
    # 0: always in the worker. A partition of fewer keys (RocksDB's estimate) is scanned in the worker.
    export_processes: int = field(default_factory=lambda: int(env("CONVOFLOW_EXPORT_PROCESSES", str(os.cpu_count() or 1))))
    export_process_min_keys: int = field(default_factory=lambda: int(env("CONVOFLOW_EXPORT_PROCESS_MIN_KEYS", "20000")))
    # HTTP: when set, every request needs "Authorization: Bearer <token>".
    api_token: str = field(default_factory=lambda: env("CONVOFLOW_API_TOKEN", ""))
    # Kafka security, passed to Faust and to every plain aiokafka client.
    kafka_security_protocol: str = field(default_factory=lambda: env("CONVOFLOW_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"))
    kafka_sasl_mechanism: str = field(default_factory=lambda: env("CONVOFLOW_KAFKA_SASL_MECHANISM", "PLAIN"))
    kafka_sasl_username: str = field(default_factory=lambda: env("CONVOFLOW_KAFKA_SASL_USERNAME", ""))
    kafka_sasl_password: str = field(default_factory=lambda: env("CONVOFLOW_KAFKA_SASL_PASSWORD", ""))
    kafka_ssl_cafile: str = field(default_factory=lambda: env("CONVOFLOW_KAFKA_SSL_CAFILE", ""))
    # Replicas of every topic convoflow creates (convoflow.topics); unset: 3, or all brokers when there are fewer.
    replication_factor: str = field(default_factory=lambda: env("CONVOFLOW_REPLICATION_FACTOR", ""))
    # "1": an existing topic with fewer replicas than that is a warning at start, not a refusal.
    allow_low_replication: bool = field(default_factory=lambda: env("CONVOFLOW_ALLOW_LOW_REPLICATION", "") == "1")

    def rocksdb_memory(self) -> tuple[int, int]:
        """(cache bytes, write buffer bytes) for ``streams.runtime.configure_rocksdb_memory``."""
        if not 0 < self.rocksdb_write_buffers_mb < self.rocksdb_cache_mb:
            raise ConfigError(f"CONVOFLOW_ROCKSDB_WRITE_BUFFERS_MB ({self.rocksdb_write_buffers_mb}) must be at least 1 "
                              f"and less than CONVOFLOW_ROCKSDB_CACHE_MB ({self.rocksdb_cache_mb}), which holds it")
        return self.rocksdb_cache_mb << 20, self.rocksdb_write_buffers_mb << 20

    def malloc_trim_every(self) -> float:
        if not self.malloc_trim_seconds >= 0:
            raise ConfigError(f"CONVOFLOW_MALLOC_TRIM_SECONDS ({self.malloc_trim_seconds}) must be 0 (never) or more")
        return self.malloc_trim_seconds

    def export_process_limits(self) -> tuple[int, int]:
        """(processes at once, least keys of a partition) for ``streams.scan_process.ScanProcesses``."""
        if self.export_processes < 0:
            raise ConfigError(f"CONVOFLOW_EXPORT_PROCESSES ({self.export_processes}) must be 0 (never) or more")
        if self.export_process_min_keys < 0:
            raise ConfigError(f"CONVOFLOW_EXPORT_PROCESS_MIN_KEYS ({self.export_process_min_keys}) must be 0 or more")
        return self.export_processes, self.export_process_min_keys

    def wanted_replication(self) -> int | None:
        """CONVOFLOW_REPLICATION_FACTOR as a number, None when unset (convoflow.topics picks it)."""
        if not self.replication_factor.strip():
            return None
        if not self.replication_factor.strip().isdigit() or int(self.replication_factor) < 1:
            raise ConfigError(f"CONVOFLOW_REPLICATION_FACTOR must be a whole number of at least 1, not {self.replication_factor!r}")
        return int(self.replication_factor)

    def kafka_kwargs(self) -> dict:
        """Connection settings for aiokafka clients (security protocol, SASL, SSL)."""
        protocol = self.kafka_security_protocol.upper()
        if protocol not in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"):
            raise ConfigError(f"CONVOFLOW_KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL, not {protocol!r}")
        kwargs: dict = {"security_protocol": protocol}
        if protocol.startswith("SASL"):
            kwargs.update(sasl_mechanism=self.kafka_sasl_mechanism, sasl_plain_username=self.kafka_sasl_username,
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

        protocol = self.kafka_kwargs()["security_protocol"]
        if protocol == "PLAINTEXT":
            return None
        if protocol == "SSL":
            return faust.SSLCredentials(self.ssl_context())
        return faust.SASLCredentials(
            username=self.kafka_sasl_username, password=self.kafka_sasl_password, mechanism=self.kafka_sasl_mechanism,
            ssl_context=self.ssl_context() if protocol == "SASL_SSL" else None,
        )

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
