"""Per-day records of agents and teams: totals always equal the sum of the partials they hold."""
import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from convoflow.tables import people
from convoflow.tables.people import BUCKETS_PER_DAY

DAY = 20_000


def partial(replies=0, handle=0, contacts=()):
    p = {}
    if replies:
        p["replies"] = replies
    if handle:
        p["handle_us"] = handle
    if contacts:
        p["contacts"] = {c: 1 for c in contacts}
    return p


def key(channel, bucket):
    return f"{channel}|{DAY * BUCKETS_PER_DAY + bucket}"


def expected_totals(latest: dict) -> dict:
    record = people.new_day()
    for cid, partials in latest.items():
        people.replace_in_day(record, cid, partials)
    return totals_of(record)


def totals_of(record: dict) -> dict:
    return {part: record[part] for part in ("a", "t", "b")}


partials_st = st.dictionaries(
    st.builds(key, st.sampled_from(["ch-1", "ch-2"]), st.integers(0, 3)),
    st.builds(partial, st.integers(0, 3), st.integers(0, 5), st.lists(st.sampled_from("xyz"), max_size=2)),
    max_size=3,
).map(lambda m: {k: v for k, v in m.items() if v})
updates_st = st.lists(st.tuples(st.sampled_from(["c1", "c2", "c3"]), partials_st), max_size=12)


def test_a_replacement_moves_the_totals_and_an_empty_map_removes_them():
    record = people.new_day()
    assert people.replace_in_day(record, "c1", {key("ch-1", 0): partial(2, contacts="x")})
    assert people.replace_in_day(record, "c2", {key("ch-1", 0): partial(1, contacts="x")})
    assert record["t"]["ch-1"] == {"replies": 3, "contacts": {"x": 2}}
    assert people.replace_in_day(record, "c1", {key("ch-2", 5): partial(1)})
    assert record["b"] == {key("ch-1", 0): partial(1, contacts="x"), key("ch-2", 5): partial(1)}
    assert not people.replace_in_day(record, "c1", {key("ch-2", 5): partial(1)})
    assert people.replace_in_day(record, "c1", {}) and people.replace_in_day(record, "c2", {})
    assert record == people.new_day()


@settings(max_examples=200, deadline=None)
@given(updates=updates_st, replay_from=st.integers(0, 12))
def test_replaying_any_suffix_after_a_crash_gives_the_same_record(updates, replay_from):
    """A crash after the record was written but before the offsets were: the updates since the
    last commit arrive again, and the record ends where it would have."""
    record = people.new_day()
    latest = {}
    for cid, partials in updates:
        people.replace_in_day(record, cid, partials)
        latest[cid] = partials
    stored = people.decode_day(people.encode_day(record))
    for cid, partials in updates[min(replay_from, len(updates)):]:
        people.replace_in_day(stored, cid, partials)
    assert totals_of(stored) == expected_totals(latest)
    assert stored["c"] == {cid: p for cid, p in latest.items() if p}


@settings(max_examples=100, deadline=None)
@given(updates=updates_st)
def test_totals_do_not_depend_on_the_order_of_conversations(updates):
    latest = dict(updates)
    record = people.new_day()
    for cid, partials in reversed(list(latest.items())):
        people.replace_in_day(record, cid, partials)
    assert totals_of(record) == expected_totals(latest)


def test_a_report_reads_only_the_totals_lines():
    record = people.new_day()
    people.replace_in_day(record, "c1", {key("ch-1", 1): partial(1)})
    people.replace_in_day(record, "c2", {key("ch-2", 1): partial(2, contacts="x")})
    assert record["a"] == partial(3, contacts="x")
    value = people.encode_day(record)
    assert people.decode_day_totals(value).totals() == totals_of(record)
    for part in ("a", "t", "b"):
        totals = people.decode_day_totals(value)
        assert totals.get(part) == record[part] and list(totals.decoded) == [part]
    assert orjson.loads(value.split(b"\n")[3]) == record["c"]
    assert people.decode_day(value) == record


def test_a_record_written_with_fixed_shards_reads_as_before():
    record = people.new_day()
    people.replace_in_day(record, "c1", {key("ch-1", 1): partial(1)})
    people.replace_in_day(record, "c2", {key("ch-2", 1): partial(2)})
    value = orjson.dumps({"b": record["b"], "t": record["t"]}) + b"\n" + orjson.dumps(record["c"])
    assert people.decode_day(value) == record
    assert people.decode_day_totals(value).totals() == totals_of(record)
    assert people.decode_day_totals(value).get("a") == partial(3)


def test_by_day_splits_a_map_at_utc_midnight():
    m = {key("ch-1", 95): partial(1), f"ch-1|{(DAY + 1) * BUCKETS_PER_DAY}": partial(2)}
    assert people.by_day(m) == {DAY: {key("ch-1", 95): partial(1)}, DAY + 1: {f"ch-1|{(DAY + 1) * BUCKETS_PER_DAY}": partial(2)}}


# ------------------------------------------------------------- an owner's day in bounded records

OWNER = "team:t-1"


def sum_of_partials(record: dict) -> dict:
    """The totals a record's own partials make."""
    return expected_totals(record["c"])


def day_of_key(key: str) -> int:
    return int(key.rsplit("|", 2)[1])


class Store:
    """One partition of ``owner_conversations`` and ``owner_days`` as a worker holds it (``local``) and as
    its changelogs hold it (``durable``: what another worker restores)."""

    def __init__(self):
        self.local = {"index": {}, "days": {}}
        self.durable = {"index": {}, "days": {}}

    def apply(self, latest: dict, per_record: int, rng=None) -> bool:
        """The people agent's batch for one owner; with ``rng``, a crash may stop it anywhere (False).

        The index writes go out in order and one changelog partition keeps a prefix of them; the
        records are sent only once the index writes are with the broker, and any of them may be lost.
        """
        placed, records = people.owner_updates(OWNER, latest, self.local["index"].get, self.local["days"].get,
                                               per_record)
        encoded = {key: people.encode_day(record) for key, record in records.items()}
        self.local["index"].update(placed)
        self.local["days"].update(encoded)
        if rng is not None and rng.random() < 0.3:
            if rng.random() < 0.5:  # while the index writes go out
                self.durable["index"].update(placed[:rng.randint(0, len(placed))])
            else:  # once they are all with the broker, while the records go out
                self.durable["index"].update(placed)
                self.durable["days"].update({k: v for k, v in encoded.items() if rng.random() < 0.5})
            return False
        self.durable["index"].update(placed)
        self.durable["days"].update(encoded)
        return True

    def take_over(self) -> None:
        """Another worker restores the partition from the changelogs."""
        self.local = {name: dict(values) for name, values in self.durable.items()}


def check_days(days: dict, latest: dict, per_record: int) -> None:
    """Every record within the bound, its totals its own partials' sum, every conversation's partials of a day
    in one record, and the records of each day adding up to the conversations' latest maps."""
    records = {key: people.decode_day(value) for key, value in days.items()}
    expected: dict[int, dict] = {}
    for cid, m in latest.items():
        for day, partials in people.by_day(m).items():
            expected.setdefault(day, {})[cid] = partials
    seen: dict[tuple, str] = {}
    per_day: dict[int, dict] = {}
    for key, record in records.items():
        assert len(record["c"]) <= per_record
        assert totals_of(record) == sum_of_partials(record)
        day = day_of_key(key)
        for cid, partials in record["c"].items():
            assert (cid, day) not in seen, f"{cid} counted in {seen[cid, day]} and {key}"
            seen[cid, day] = key
            per_day.setdefault(day, {})[cid] = partials
    assert {d: c for d, c in per_day.items() if c} == expected


day_partials_st = st.dictionaries(
    st.builds(lambda day, channel, bucket: f"{channel}|{(DAY + day) * BUCKETS_PER_DAY + bucket}",
              st.integers(0, 1), st.sampled_from(["ch-1", "ch-2"]), st.integers(0, 2)),
    st.builds(partial, st.integers(0, 3), st.integers(0, 5), st.lists(st.sampled_from("xyz"), max_size=2)),
    max_size=3,
).map(lambda m: {k: v for k, v in m.items() if v})
owner_updates_st = st.lists(st.tuples(st.sampled_from([f"c{i}" for i in range(12)]), day_partials_st), max_size=40)


def batches_of(updates, sizes):
    i = 0
    for size in sizes:
        if i >= len(updates):
            return
        yield updates[i:i + size]
        i += size
    if i < len(updates):
        yield updates[i:]


@settings(max_examples=200, deadline=None)
@given(updates=owner_updates_st, per_record=st.sampled_from([1, 2, 3, 64]),
       sizes=st.lists(st.integers(1, 8), max_size=10))
def test_records_stay_within_the_bound_and_add_up_in_any_order_and_batching(updates, per_record, sizes):
    store = Store()
    for batch in batches_of(updates, sizes):
        store.apply(dict(batch), per_record)  # the latest map per conversation of the batch
    latest = dict(updates)
    check_days(store.local["days"], latest, per_record)
    assert store.local == store.durable


@settings(max_examples=300, deadline=None)
@given(updates=owner_updates_st, per_record=st.sampled_from([1, 2, 3]), sizes=st.lists(st.integers(1, 8), max_size=10),
       seed=st.integers(0, 10**6), restarts=st.booleans())
def test_a_crash_anywhere_then_a_replay_on_any_worker_keeps_every_record_exact(updates, per_record, sizes, seed,
                                                                              restarts):
    """A batch stops at any point (an index write, a record write lost with it); the worker that replays it
    is the same one, with its local store, or another, restored from the changelogs. Repeats and
    re-sent maps change nothing, and no record goes over the bound."""
    rng = random.Random(seed)
    store = Store()
    for batch in batches_of(updates, sizes):
        while not store.apply(dict(batch), per_record, rng):
            if not restarts:
                store.take_over()
        if rng.random() < 0.2:
            store.apply(dict(batch), per_record)  # a duplicate delivery
    latest = dict(updates)
    check_days(store.local["days"], latest, per_record)
    store.take_over()
    check_days(store.local["days"], latest, per_record)


def test_a_full_record_sends_new_conversations_to_the_next_and_places_are_kept():
    store = Store()
    m = {key("ch-1", 0): partial(1)}
    store.apply({f"c{i}": m for i in range(5)}, per_record=2)
    keys = sorted(store.local["days"])
    assert keys == [people.day_key(OWNER, DAY, n) for n in range(3)]
    store.apply({"c4": {key("ch-1", 1): partial(2)}, "c5": m}, per_record=2)  # c4 stays; c5 joins c4's record
    assert people.decode_day(store.local["days"][people.day_key(OWNER, DAY, 2)])["c"] == {
        "c4": {key("ch-1", 1): partial(2)}, "c5": m}
    assert people.decode_places(store.local["index"][people.index_key(OWNER, "c4")]) == {DAY: 4}
    assert orjson.loads(store.local["index"][people.counter_key(OWNER, DAY)]) == 6


def test_a_conversation_of_a_store_with_fixed_shards_stays_in_its_record():
    """Index entries written as a list of days name the fixed shard records: those conversations are
    replaced there; a new day gets a place."""
    store = Store()
    legacy = people.legacy_day_key(OWNER, DAY, "old")
    record = people.new_day()
    people.replace_in_day(record, "old", {key("ch-1", 0): partial(1)})
    store.local["days"][legacy] = people.encode_day(record)
    store.local["index"][people.index_key(OWNER, "old")] = orjson.dumps([DAY])
    new_day_key = f"ch-1|{(DAY + 1) * BUCKETS_PER_DAY}"
    store.apply({"old": {key("ch-1", 0): partial(3), new_day_key: partial(1)}}, per_record=2)
    assert people.decode_day(store.local["days"][legacy])["t"] == {"ch-1": partial(3)}
    assert people.decode_day(store.local["days"][people.day_key(OWNER, DAY + 1, 0)])["c"] == {
        "old": {new_day_key: partial(1)}}
    assert people.decode_places(store.local["index"][people.index_key(OWNER, "old")]) == {DAY: None, DAY + 1: 0}
