"""Tests of the simulated contacts (convoflow/tools/simulate/contacts.py)."""
from __future__ import annotations

import collections


def test_contacts(by_type, by_conv):
    msgs = by_type["message.created"]
    contacts = {e["contact_profile_id"] for e in msgs}
    assert 200 <= len(contacts) <= 260
    per_contact = collections.Counter()
    for es in by_conv.values():
        ms = [e for e in es if e["type"] == "message.created"]
        if ms:
            per_contact[ms[0]["contact_profile_id"]] += 1
    assert sum(1 for n in per_contact.values() if n > 1) > 50
    prim = collections.defaultdict(set)
    absent = empty = 0
    for e in msgs:
        p = e.get("contact_primary_identifier")
        if p is None:
            absent += 1
        elif p == "":
            empty += 1
        else:
            prim[e["contact_profile_id"]].add(p)
    assert absent and empty
    assert any(len(v) > 1 for v in prim.values())  # identifiers change
    secs = [e.get("contact_secondary_identifier", "<absent>") for e in msgs
            if "contact_primary_identifier" in e]
    assert "" in secs and "<absent>" in secs
    idents = {p for v in prim.values() for p in v}
    assert any(p.startswith("+") for p in idents) and any(p.startswith("@") for p in idents)
    assert any(not p.isascii() for p in idents)


def test_contact_attributes(by_type):
    sets = by_type["contact.attribute_set"]
    assert {e["attribute_type"] for e in sets} == {"TEXT", "NUMBER", "BOOLEAN", "DATE", "LIST"}
    values = [e["value"] for e in sets]
    for ch in ",\"\n":
        assert any(ch in v for v in values), ch
    assert any(not v.isascii() for v in values)
    per = collections.Counter((e["contact_profile_id"], e["attribute_id"]) for e in sets)
    assert any(n > 1 for n in per.values())  # overwritten
    assert by_type["contact.attribute_cleared"]
    names = {}
    for e in sets:
        assert names.setdefault(e["attribute_id"], e["attribute_name"]) == e["attribute_name"]
