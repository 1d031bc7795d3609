"""Settings shared by the worker and the command-line tools; environment variables are the defaults."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from convoflow.events import TOPICS

INTERNAL_TOPICS = ("contact-updates", "people-updates", "export-shards", "export-parts")
CONTROL_TOPICS = ("export-requests", "export-results", "dead-letters")


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
    batch_size: int = field(default_factory=lambda: int(env("CONVOFLOW_BATCH_SIZE", "2000")))

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
