"""Live lookups (exporters/lookups.py): a conversation's lookup is its row of the conversations report."""
import random

from convoflow.tools import simulate
from convoflow.contract.times import parse_time
from convoflow.exporters.context import ReportContext
from convoflow.exporters.headers import HEADERS
from convoflow.exporters.lookups import LOOKUPS
from convoflow.exporters.request import ExportRequest
from convoflow.tables import contact
from convoflow.tables.directory import Directory
from tests.exporters.helpers import run, stored
from tests.exporters.test_against_model import fed_in_batches

AS_OF = "2024-10-28T06:00:00Z"


def test_the_conversation_lookup_is_the_row_the_export_has():
    events = simulate.generate(seed=21, agents=5, teams=2, conversations=60, days=2, start="2024-10-26T00:00:00Z")
    pipeline = fed_in_batches(events, random.Random(1))
    contacts = pipeline.tables["contacts"]
    req = ExportRequest("r", "conversations_resolved", "America/New_York", "2024-10-26", "2024-10-27", (), AS_OF)
    ctx = ReportContext(req, parse_time(AS_OF), Directory(pipeline.tables["directory"]),
                        lambda c: contact.identifiers(contacts.get(c)))
    exported = {row[0]: row for row in run("conversations_resolved", ctx, [pipeline.tables])}
    lookup = LOOKUPS["conversation"]
    assert len(exported) > 20
    for cid, row in exported.items():
        state = stored(lookup, "conversations", pipeline.tables["conversations"][cid])
        [(key, answer)] = lookup.sources["conversations"](ctx, cid, state)
        assert key == cid and answer == dict(zip(HEADERS["conversations_resolved"], row))
