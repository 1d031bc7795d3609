"""Faust declares no topics (``topic_allow_declare=False``): ensure_topics must create every one the app uses."""
from convoflow.app import create_app
from convoflow.config import Settings
from convoflow.topics import deployment_topics


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
        assert (changelog.num_partitions, changelog.topic_configs) == (6, {"cleanup.policy": "compact"})
    assert created["topics-convoflow-__assignor-__leader"].num_partitions == 1
