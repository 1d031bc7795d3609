"""Topic administration with plain aiokafka: create every topic up front, check the ones that exist, read end offsets."""
from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.conn import collect_hosts, create_conn
from aiokafka.errors import (
    BrokerResponseError, KafkaConnectionError, KafkaError, SaslAuthenticationFailed, TopicAlreadyExistsError,
    UnsupportedSaslMechanismError, for_code,
)

from convoflow.contract import catalog
from convoflow.contract.config import ConfigError, Settings

# Tables whose changelogs every worker replicates (read-only), and the ones it only writes.
REPLICATED_TABLES = tuple(t.name for t in catalog.CATALOG if t.kind == catalog.CHANGELOG and t.replicated)
PARTITIONED_TABLES = tuple(t.name for t in catalog.CATALOG if t.kind == catalog.CHANGELOG and not t.replicated)

# Replicas of every topic when CONVOFLOW_REPLICATION_FACTOR is unset (fewer when the cluster has fewer brokers).
DEFAULT_REPLICATION = 3

# Every producer convoflow makes, Faust's included: a record is sent when every in-sync replica has it, and a
# send retried after a lost answer is written once.
DURABLE_PRODUCER = {"acks": "all", "enable_idempotence": True}


class TopicError(ConfigError):
    """An existing topic that does not serve the deployment as configured; the command says which and exits."""


@dataclass
class TopicsReady:
    """What ``ensure_topics`` settled: the replication factor of the deployment's topics, and what to log."""

    replication: int
    notes: list[tuple[int, str]] = field(default_factory=list)  # (logging level, line)


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog; created here so that the replicas can read it at once."""
    return _declared(catalog.CHANGELOG, table).full_name(settings.topic_prefix)


def leader_topic(settings: Settings) -> str:
    """Faust's own topic for electing the group's assignor (one partition)."""
    return _declared(catalog.FAUST, "__assignor-__leader").full_name(settings.topic_prefix)


def _declared(kind: str, name: str) -> catalog.Topic:
    return next(t for t in catalog.CATALOG if t.kind == kind and t.name == name)


def min_insync_replicas(replication: int) -> int:
    """One replica may be away (a broker restarting) while producers with acks=all still write."""
    return max(1, replication - 1)


def deployment_topics(settings: Settings, replication: int = 1) -> list[NewTopic]:
    """Every topic of the catalog (``convoflow.contract.catalog``) as the deployment creates it."""
    insync = {"min.insync.replicas": str(min_insync_replicas(replication))}
    return [NewTopic(t.full_name(settings.topic_prefix), t.partitions or settings.partitions, replication,
                     topic_configs={**({"cleanup.policy": "compact"} if t.compacted else {}), **insync})
            for t in catalog.CATALOG]


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



def replication_for(settings: Settings, brokers: int, notes: list) -> int:
    """The replication factor of new topics: CONVOFLOW_REPLICATION_FACTOR, else 3 or the brokers there are."""
    wanted = settings.wanted_replication()
    if wanted is not None:
        if wanted > brokers:
            notes.append((logging.WARNING, f"CONVOFLOW_REPLICATION_FACTOR is {wanted} but {brokers} broker(s) of "
                                           f"{settings.bootstrap} answer"))
        return wanted
    if brokers < DEFAULT_REPLICATION:
        notes.append((logging.INFO, f"replication factor {brokers} for new topics, not {DEFAULT_REPLICATION}: the cluster "
                                    f"has {brokers} broker(s) up (CONVOFLOW_REPLICATION_FACTOR chooses it)"))
        return brokers
    return DEFAULT_REPLICATION


async def ensure_topics(settings: Settings) -> TopicsReady:
    """Create every topic of the deployment that is missing, and check the ones that exist.

    An existing topic with fewer partitions than configured, a changelog that is not
    compacted, or fewer replicas than configured (unless CONVOFLOW_ALLOW_LOW_REPLICATION=1:
    then a warning) is a ``TopicError`` naming the topic, what it has and what it needs.
    Faust is told not to declare topics itself: it would send one request per topic,
    over a second of every worker's start. A new table needs its changelog listed here
    (tests/convoflow/test_topics.py checks). Every command and the worker call this first,
    so a broker that cannot be reached, or that refuses the settings, stops them here.
    """
    await check_connection(settings)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap, **settings.kafka_kwargs())
    await admin.start()
    try:
        ready = TopicsReady(replication=1)
        brokers = len((await admin.describe_cluster())["brokers"])
        ready.replication = replication_for(settings, brokers, ready.notes)
        existing = set(await admin.list_topics())
        topics = deployment_topics(settings, ready.replication)
        present = [t for t in topics if t.name in existing]
        if present:
            await _check(admin, settings, present, ready)
        wanted = [t for t in topics if t.name not in existing]
        if wanted and ready.replication > brokers:
            raise ConfigError(f"CONVOFLOW_REPLICATION_FACTOR is {ready.replication} but {brokers} broker(s) of "
                              f"{settings.bootstrap} answer: topic {wanted[0].name} cannot be created")
        if wanted:
            response = await admin.create_topics(wanted)
            existed = []
            for topic, code, *_ in response.topic_errors:
                if code and for_code(code) is TopicAlreadyExistsError:
                    existed.append(topic)
                elif code:
                    raise for_code(code)(f"could not create topic {topic}")
            if existed:
                # Created by another worker since we listed, or listed by a broker whose metadata was behind
                # the controller's: checked like the others, once a broker describes them.
                await _check(admin, settings, [t for t in wanted if t.name in existed], ready, wait=10.0)
        return ready
    finally:
        await admin.close()


async def _check(admin: AIOKafkaAdminClient, settings: Settings, topics: list[NewTopic], ready: TopicsReady,
                 wait: float = 0.0) -> None:
    """Partitions, replicas and (changelogs) cleanup policy of existing topics against what they are created with.
    A topic no broker describes is skipped, after asking again for up to ``wait`` seconds."""
    described = await _describe(admin, [t.name for t in topics], wait)
    compacted = [t.name for t in topics if t.topic_configs.get("cleanup.policy") == "compact"]
    policies = {}
    if compacted:
        resources = [ConfigResource(ConfigResourceType.TOPIC, name, configs={"cleanup.policy": None}) for name in compacted]
        for response in await admin.describe_configs(resources):
            for resource in response.to_object()["resources"]:
                for entry in resource["config_entries"]:
                    policies[resource["resource_name"]] = entry["config_value"]
    refusals, low = [], []
    for t in topics:
        partitions = described.get(t.name, {}).get("partitions")
        if not partitions:
            continue  # deleted since it was listed: created by the next start
        if len(partitions) < t.num_partitions:
            refusals.append(f"topic {t.name} has {len(partitions)} partition(s), needs {t.num_partitions} "
                            f"(--partitions / CONVOFLOW_PARTITIONS)")
        if t.name in policies and policies[t.name] != "compact":
            refusals.append(f"topic {t.name} has cleanup.policy={policies[t.name]}, needs compact (a table's changelog)")
        replicas = min(len(p["replicas"]) for p in partitions)
        if replicas < ready.replication:
            low.append(f"topic {t.name} has replication factor {replicas}, needs {ready.replication} "
                       f"(CONVOFLOW_REPLICATION_FACTOR)")
    if low and settings.allow_low_replication:
        ready.notes += [(logging.WARNING, f"{line}; starting anyway (CONVOFLOW_ALLOW_LOW_REPLICATION=1)") for line in low]
    else:
        refusals += [f"{line}; CONVOFLOW_ALLOW_LOW_REPLICATION=1 starts anyway" for line in low]
    if refusals:
        more = f" (and {len(refusals) - 1} more problem(s) with existing topics)" if len(refusals) > 1 else ""
        raise TopicError(refusals[0] + more)


async def _describe(admin: AIOKafkaAdminClient, names: list[str], wait: float) -> dict[str, dict]:
    """{topic: its metadata} for the topics a broker knows; the others are asked for again until ``wait`` is over."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    described: dict[str, dict] = {}
    while True:
        missing = [n for n in names if n not in described]
        for d in await admin.describe_topics(missing):
            if not d["error_code"] and d["partitions"]:
                described[d["topic"]] = d
        if len(described) == len(names) or loop.time() >= deadline:
            return described
        await asyncio.sleep(0.2)


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
