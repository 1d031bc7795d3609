"""Faust declares no topics (``topic_allow_declare=False``): ensure_topics must create every one the app uses,
replicated as configured."""
import asyncio
import logging

import pytest

from convoflow.app import create_app
from convoflow.contract.config import ConfigError, Settings
from convoflow.contract.topics import deployment_topics, replication_for


def test_every_topic_the_worker_reads_or_writes_is_created_up_front():
    settings = Settings(broker="kafka://127.0.0.1:1", topic_prefix="topics-", partitions=6)
    app, _ = create_app(settings)
    created = {t.name: t for t in deployment_topics(settings)}
    used = {name for topic in app.topics for name in topic.topics}  # what the batch agents read
    used |= {name for agent in app.agents.values() for name in agent.channel.topics}  # the Faust agents
    used |= {table.changelog_topic.get_topic_name() for table in app.tables.values()}
    assert used and used <= created.keys(), sorted(used - created.keys())
    for table in app.tables.values():
        changelog = created[table.changelog_topic.get_topic_name()]
        assert (changelog.num_partitions, changelog.topic_configs["cleanup.policy"]) == (6, "compact")
    assert created["topics-convoflow-__assignor-__leader"].num_partitions == 1


@pytest.mark.parametrize("replication, insync", [(1, "1"), (2, "1"), (3, "2"), (5, "4")])
def test_every_topic_is_created_with_the_replication_factor_and_one_replica_to_spare(replication, insync):
    topics = deployment_topics(Settings(broker="kafka://127.0.0.1:1", topic_prefix="rf-"), replication)
    assert len(topics) > 20
    for topic in topics:
        assert topic.replication_factor == replication, topic.name
        assert topic.topic_configs["min.insync.replicas"] == insync, topic.name


@pytest.mark.parametrize("setting, brokers, expected, said", [
    ("", 1, 1, "replication factor 1 for new topics, not 3: the cluster has 1 broker(s) up"),
    ("", 2, 2, "replication factor 2 for new topics, not 3"),
    ("", 3, 3, None),
    ("", 5, 3, None),
    ("2", 5, 2, None),
    ("5", 5, 5, None),
    ("3", 2, 3, "CONVOFLOW_REPLICATION_FACTOR is 3 but 2 broker(s) of 127.0.0.1:1 answer"),
])
def test_replication_factor_is_3_or_the_brokers_there_are_unless_set(setting, brokers, expected, said):
    notes = []
    assert replication_for(Settings(broker="kafka://127.0.0.1:1", replication_factor=setting), brokers, notes) == expected
    if said is None:
        assert notes == []
    else:
        assert len(notes) == 1 and said in notes[0][1], notes
        assert notes[0][0] == (logging.INFO if not setting else logging.WARNING)


@pytest.mark.parametrize("setting", ["0", "-1", "three", "2.5"])
def test_a_replication_factor_that_is_not_a_whole_number_of_at_least_1_is_refused(setting):
    with pytest.raises(ConfigError, match=f"CONVOFLOW_REPLICATION_FACTOR must be a whole number of at least 1, not '{setting}'"):
        replication_for(Settings(replication_factor=setting), 3, [])


def test_the_workers_producer_waits_for_every_in_sync_replica_and_is_idempotent():
    app, _ = create_app(Settings(broker="kafka://127.0.0.1:1", topic_prefix="durable-"), replication=3)
    assert app.conf.topic_replication_factor == 3

    async def made():
        return app.producer._new_producer()  # the aiokafka producer Faust starts (not started here)

    producer = asyncio.run(made())
    assert producer._sender._acks == -1  # acks=all
    assert producer._txn_manager is not None  # idempotence: a producer id and sequence numbers
