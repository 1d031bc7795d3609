"""Topic administration with plain aiokafka: create every topic up front, read end offsets."""
from __future__ import annotations

import asyncio
import ssl

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import (
    BrokerResponseError, KafkaConnectionError, KafkaError, SaslAuthenticationFailed, TopicAlreadyExistsError,
    UnsupportedSaslMechanismError, for_code,
)

from convoflow.config import ConfigError, Settings

# Tables whose changelogs every worker replicates (read-only), and the ones it only writes.
REPLICATED_TABLES = ("directory", "contacts")
PARTITIONED_TABLES = ("conversations", "presence", "export_log", "owner_conversations", "owner_days")


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog; created here so that the replicas can read it at once."""
    return f"{settings.app_id}-{table}-changelog"


def leader_topic(settings: Settings) -> str:
    """Faust's own topic for electing the group's assignor (one partition)."""
    return f"{settings.app_id}-__assignor-__leader"


def deployment_topics(settings: Settings) -> list[NewTopic]:
    """Every topic a deployment uses: inputs, internal and control topics, table changelogs and
    Faust's assignor topic."""
    topics = [NewTopic(t, settings.partitions, 1) for t in settings.all_topics()]
    topics += [NewTopic(changelog_topic(settings, table), settings.partitions, 1, topic_configs={"cleanup.policy": "compact"})
               for table in REPLICATED_TABLES + PARTITIONED_TABLES]
    topics.append(NewTopic(leader_topic(settings), 1, 1))
    return topics


class BrokerUnreachable(KafkaConnectionError):
    """No bootstrap server answered; the message says which were tried, how, and what each said."""

    def __str__(self) -> str:
        return str(self.args[0])


async def check_connection(settings: Settings, timeout: float = 15.0) -> None:
    """Connect to a bootstrap server once, the way every client connects, and close again.

    A client that cannot connect logs the reason and raises only "Unable to bootstrap"; this says
    why in one line: settings Kafka refuses (credentials, SASL mechanism, an untrusted certificate)
    are a ``ConfigError``, anything else (nothing listening, another protocol) ``BrokerUnreachable``.
    """
    kwargs = settings.kafka_kwargs()
    how = f"{settings.broker} ({settings.describe_connection()})"
    reasons = []
    for host, port, _ in collect_hosts(settings.bootstrap, randomize=False):
        address = f"{host}:{port}"
        try:
            conn = await create_conn(host, port, request_timeout_ms=int(timeout * 1000), **kwargs)
        except SaslAuthenticationFailed as exc:
            said = exc.args[0] if exc.args and isinstance(exc.args[0], str) else exc.description
            raise ConfigError(f"Kafka at {address} refused the credentials of {settings.describe_connection()} "
                              f"({said}): check CONVOFLOW_KAFKA_SASL_USERNAME and CONVOFLOW_KAFKA_SASL_PASSWORD") from None
        except UnsupportedSaslMechanismError as exc:
            raise ConfigError(f"Kafka at {address} does not accept CONVOFLOW_KAFKA_SASL_MECHANISM="
                              f"{settings.kafka_sasl_mechanism.upper()} ({exc.description})") from None
        except ssl.SSLCertVerificationError as exc:
            raise ConfigError(f"Kafka at {address}: its certificate is not trusted ({exc.verify_message}); "
                              f"CONVOFLOW_KAFKA_SSL_CAFILE names the CA that signs it") from None
        except (OSError, KafkaError, asyncio.TimeoutError) as exc:
            if isinstance(exc, asyncio.TimeoutError):
                reason = f"no answer within {timeout:g} s"
            elif isinstance(exc, BrokerResponseError):
                reason = f"{exc.message}: {exc.description}"
            else:
                reason = str(exc) or exc.__class__.__name__
            if isinstance(exc, (ssl.SSLError, ConnectionResetError, KafkaError, asyncio.TimeoutError)):
                reason += " (does the listener use this security protocol?)"  # it answered, but not as expected
            reasons.append(f"{address}: {reason}")
            continue
        conn.close()
        return
    raise BrokerUnreachable(f"cannot connect to Kafka at {how}: {'; '.join(reasons)}")


async def ensure_topics(settings: Settings) -> None:
    """Create every topic of the deployment with the configured partition count (no-op when present).

    Faust is told not to declare topics itself: it would send one request per topic,
    over a second of every worker's start. A new table needs its changelog listed here
    (tests/convoflow/test_topics.py checks). Every command and the worker call this first,
    so a broker that cannot be reached, or that refuses the settings, stops them here.
    """
    await check_connection(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_kwargs())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in deployment_topics(settings) if t.name not in existing]
        if wanted:
            response = await admin.create_topics(wanted)
            for topic, code, *_ in response.topic_errors:
                # another worker may have created it since we listed
                if code and for_code(code) is not TopicAlreadyExistsError:
                    raise for_code(code)(f"could not create topic {topic}")
    finally:
        await admin.close()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str, timeout: float = 30.0) -> list[TopicPartition]:
    return await partitions_of_topics(consumer, [topic], timeout)


async def partitions_of_topics(consumer: AIOKafkaConsumer, topics: list[str], timeout: float = 30.0) -> list[TopicPartition]:
    """Every partition of the topics; the consumer learns the ones it does not know in one metadata request."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    client = consumer._client
    while True:
        missing = [t for t in topics if not consumer.partitions_for_topic(t)]
        if not missing:
            return [TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))]
        if loop.time() > deadline:
            raise RuntimeError(f"topic {missing[0]} has no partitions (does it exist?)")
        # Track the topics in the consumer's own metadata, then refresh it once for all of them.
        client.set_topics(client._topics | set(missing))
        await client.force_metadata_update()
        if any(not consumer.partitions_for_topic(t) for t in missing):
            await asyncio.sleep(0.05)


async def end_offsets(consumer: AIOKafkaConsumer, topics: list[str]) -> dict[str, dict[int, int]]:
    """{topic: {partition: end offset}} as the broker has them now."""
    tps = await partitions_of_topics(consumer, topics)
    ends = await consumer.end_offsets(tps)
    result: dict[str, dict[int, int]] = {}
    for tp, offset in ends.items():
        result.setdefault(tp.topic, {})[tp.partition] = offset
    return result
