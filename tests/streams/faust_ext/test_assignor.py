"""convoflow's partition assignor: warm hand-over, on the real assignor of a worker app."""
import json

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from faust.assignor.client_assignment import ClientAssignment, ClientMetadata
from faust.types import TP

from convoflow.streams.faust_ext import assignor as a

from ..worker_app import PREFIX


def every(assignment: dict) -> list[int]:
    return sorted(p for ps in assignment.values() for p in ps)


def test_fresh_workers_share_the_partitions_evenly_with_a_standby_each_elsewhere():
    actives, standbys, warming = a.plan(["w1", "w2", "w3"], 12, {}, {}, {}, replicas=1)
    assert every(actives) == list(range(12)) and {len(ps) for ps in actives.values()} == {4}
    assert every(standbys) == list(range(12)), "one standby per partition"
    assert all(not actives[m] & standbys[m] for m in actives), "never a standby of its own partition"
    assert warming == {"w1": set(), "w2": set(), "w3": set()}, "no owner to wait beside"


def test_a_joining_worker_warms_up_beside_the_owners_then_takes_over():
    previous = {"w1": {0, 1, 2, 3, 4, 5}, "w2": {6, 7, 8, 9, 10, 11}}
    standbys = {"w1": {6, 7, 8, 9, 10, 11}, "w2": {0, 1, 2, 3, 4, 5}}
    actives, standbys_now, warming = a.plan(["w1", "w2", "w3"], 12, previous, standbys, {}, replicas=1)
    assert actives["w1"] == previous["w1"] and actives["w2"] == previous["w2"], "nothing moves to a cold copy"
    assert actives["w3"] == set() and len(warming["w3"]) == 4, "w3 warms up for its share"
    assert warming["w3"] <= standbys_now["w3"], "as a standby, restored beside the running owner"

    warm = {"w1": standbys["w1"], "w2": standbys["w2"], "w3": warming["w3"]}
    actives2, standbys2, warming2 = a.plan(["w1", "w2", "w3"], 12, previous, standbys_now, warm, replicas=1)
    assert actives2["w3"] == warming["w3"], "the warm partitions move, and only those"
    assert {len(ps) for ps in actives2.values()} == {4} and every(actives2) == list(range(12))
    assert not any(warming2.values())
    for p in warming["w3"]:
        former = "w1" if p in previous["w1"] else "w2"
        assert p in standbys2[former], "the former owner keeps a warm standby"


def test_a_leaving_workers_partitions_go_at_once_to_their_warm_standbys():
    previous = {"w1": {0, 1}, "w2": {2, 3}}  # w3 (4, 5) left
    standbys = {"w1": {4}, "w2": {5}}
    actives, _, warming = a.plan(["w1", "w2"], 6, previous, standbys, {"w1": {4}, "w2": {5}}, replicas=1)
    assert actives == {"w1": {0, 1, 4}, "w2": {2, 3, 5}}
    assert not any(warming.values())


def test_without_standby_replicas_a_warming_worker_still_gets_its_copy():
    actives, standbys, warming = a.plan(["w1", "w2"], 4, {"w1": {0, 1, 2, 3}}, {}, {}, replicas=0)
    assert actives == {"w1": {0, 1, 2, 3}, "w2": set()}
    assert standbys["w2"] == warming["w2"] and len(warming["w2"]) == 2 and standbys["w1"] == set()


def test_the_subscription_says_which_standbys_are_warm_and_faust_reads_it_as_its_own(app):
    assignor = app.assignor
    assert isinstance(assignor, a.PartitionAssignor) and assignor.replicas == 1
    assignor.warm = {2, 5}
    metadata = assignor.metadata({"t"})
    assert json.loads(metadata.user_data)[a.WARM_KEY] == [2, 5]
    assert assignor.reported_warm == {2, 5}
    client = assignor._get_client_metadata(metadata)
    assert isinstance(client, ClientMetadata) and client.url == str(app.conf.canonical_url)


def test_an_assignment_tells_a_worker_what_it_warms_up_for(app):
    assignor = app.assignor
    changelog = f"{PREFIX}convoflow-conversations-changelog"
    assignment = ClientAssignment(actives={}, standbys={changelog: [3]})
    data = json.loads(ClientMetadata(assignment=assignment, url=str(app.conf.canonical_url),
                                     changelog_distribution={}, topic_groups={}).dumps())
    data[a.WARMING_KEY] = [3]
    protocol = ConsumerProtocolMemberAssignment(
        4, sorted(assignment.kafka_protocol_assignment(app.tables)), assignor._compress(json.dumps(data).encode()))
    assignor.on_assignment(protocol)
    assert assignor.warming == {3}
    assert assignor.assigned_standbys() == {TP(changelog, 3)} and assignor.assigned_actives() == set()


def test_a_standby_is_warm_when_every_table_changelog_is_in_its_store(app, monkeypatch):
    assignor = app.assignor
    tables = [t for t in app.tables.values() if hasattr(t.data, "persisted_offset")]
    standbys = {t.changelog_topic.get_topic_name(): [1, 2] for t in tables}
    assignor._assignment = ClientAssignment(actives={}, standbys=standbys)
    ends = {topic: {1: 100, 2: a.WARM_LAG + 50} for topic in standbys}
    monkeypatch.setattr(app.consumer, "highwater", lambda tp: ends[tp.topic][tp.partition])
    for t in tables:
        t.data.set_persisted_offset(TP(t.changelog_topic.get_topic_name(), 1), 98)
    assert assignor.refresh_warm() == {1}, "partition 2's copy is empty, more than WARM_LAG behind"
    for t in tables:
        t.data.set_persisted_offset(TP(t.changelog_topic.get_topic_name(), 2), 60)
    assert assignor.refresh_warm() == {1, 2}


