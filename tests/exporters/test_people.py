"""agent_metrics and teams partials (exporters/people.py): a shard settles a group's distinct counts
before its part leaves it, and the rows stay the same."""
import pytest

from convoflow.exporters import people
from convoflow.exporters.context import ReportContext
from convoflow.exporters.request import ExportRequest

CTX = ReportContext(ExportRequest("r", "agent_metrics", "UTC", "2024-07-01", "2024-07-02"), 0)


def day(contacts, handled, handle_us=60_000_000):
    return {"p": {"replies": 2, "sessions": 1, "handle_us": handle_us,
                  "contacts": {c: 1 for c in contacts}, "handled": {h: 1 for h in handled}}}


def owners_shard():
    """An agent's two days, merged in the shard that holds them (a contact and a conversation on both)."""
    return people.merge(day(["ct-1", "ct-2"], ["c-1"]), day(["ct-2", "ct-3"], ["c-1", "c-2"]))


def test_a_settled_partial_counts_each_member_once_and_makes_the_same_row():
    unsettled = owners_shard()
    settled = people.settle(owners_shard())
    assert settled["p"]["contacts"] == 3 and settled["p"]["handled"] == 2
    presence = {"av": 3_600_000_000, "aw": 0, "present": True}  # from the presence partition's shard
    assert list(people.agent_row(CTX, "a-1", people.merge(settled, dict(presence)))) == \
        list(people.agent_row(CTX, "a-1", people.merge(unsettled, dict(presence))))
    assert list(people.agent_row(CTX, "a-1", people.merge(dict(presence), people.settle(owners_shard())))) == \
        list(people.agent_row(CTX, "a-1", people.merge(dict(presence), owners_shard())))


def test_a_partial_without_members_settles_as_it_is():
    assert people.settle({"av": 5, "present": True}) == {"av": 5, "present": True}
    assert people.settle({"p": {"replies": 1}}) == {"p": {"replies": 1}}


def test_an_owners_days_from_two_shards_are_refused_not_added():
    with pytest.raises(ValueError, match="one owner's days came from two shards"):
        people.merge(people.settle(owners_shard()), day(["ct-9"], ["c-9"]))
    with pytest.raises(ValueError, match="one owner's days came from two shards"):
        people.merge(day(["ct-9"], ["c-9"]), people.settle(owners_shard()))


def test_the_settled_check_names_every_count_map():
    from convoflow.tables import people as owner_days
    assert set(owner_days.SETS) == {"contacts", "handled"}, "exporters.people._settled names each count map"
    for field in owner_days.SETS:
        assert people._settled({field: 3}) and not people._settled({field: {"x": 1}})


def stored_day(owner, day, conversations):
    """(key, record as a report reads it) of an owner's day holding these conversations' partials."""
    from convoflow.tables import people as owner_days
    record = owner_days.new_day()
    for cid, contact in conversations:
        bucket = day * owner_days.BUCKETS_PER_DAY + 40
        owner_days.replace_in_day(record, cid, {f"ch-1|{bucket}": {"replies": 1, "contacts": {contact: 1}}})
    return owner_days.day_key(owner, day, 0), owner_days.decode_day_totals(owner_days.encode_day(record))


def test_an_owners_days_in_key_order_are_added_up_as_one_item():
    ctx = ReportContext(ExportRequest("r", "agent_metrics", "UTC", "2024-07-01", "2024-07-03"), 0)
    first = 19905  # 2024-07-01
    days = [stored_day("agent:a-1", first, [("c-1", "ct-1")]), stored_day("agent:a-1", first + 1, [("c-2", "ct-1"), ("c-3", "ct-2")]),
            stored_day("agent:a-2", first, [("c-4", "ct-3")]), stored_day("team:t-1", first, [("c-1", "ct-1")]),
            stored_day("agent:a-3", first + 9, [("c-5", "ct-4")])]  # a day outside R
    items = list(people.agent_days(ctx, iter(days)))
    assert items == [("a-1", {"p": {"replies": 3, "contacts": {"ct-1": 2, "ct-2": 1}}}),
                     ("a-2", {"p": {"replies": 1, "contacts": {"ct-3": 1}}})]
    again = [days[0], days[2], days[1]]  # an owner met again: another item, merged like any group
    assert [owner for owner, _ in people.agent_days(ctx, iter(again))] == ["a-1", "a-2", "a-1"]
