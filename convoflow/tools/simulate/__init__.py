"""Deterministic simulation of a contact centre, as events of the contract.

``generate`` returns the events (dicts: ``event_id``, ``type``, ``occurred_at``
and the fields of the event contract, ``docs/events.md``) of a simulated contact
centre, sorted by ``occurred_at`` (ties in ``event_id`` order, which is also
the causal order).  Everything comes from one ``random.Random(seed)``: the
same arguments always give the same list, byte for byte.  Pure Python: no
Kafka, no wall clock, no global random state.

What the simulation contains (with the defaults, every item occurs):

* directory first: channels (one display name with a comma, one non-ASCII, one
  without display name), teams, agents, virtual agents, topics, tags; later an
  agent renamed, one topic and one tag deleted; a few ids used but never
  upserted (``GHOST_*``);
* agents in four time zones with daily shifts: AVAILABLE, AWAY periods
  (Break, Lunch, Training, Meeting, or no away state), OFFLINE; repeated
  identical states, shifts over UTC midnight, one zero-length interval and
  one shift that never ends;
* contacts (about ``conversations / 2``) with identifiers that change, are
  empty or absent, and attributes (TEXT/NUMBER/BOOLEAN/DATE/LIST) that are set,
  overwritten and cleared;
* conversations: inbound first message and NEW; about 30 % through a virtual
  agent (resolved by it or handed over, sometimes with ``ERROR``); lock
  sessions that handle (reply), resolve without reply or cherry-pick; PENDING,
  contact replies (NEW again), agent moves, reopenings after a resolution,
  resolutions by agents, BULK and SYSTEM; conversations left open; proactive
  outbounds, automation outbounds; message edits and deletions; topics and tags
  applied and removed; CSAT surveys with complete, partial, repeated, early and
  missing answers;
* rare edge cases the contract defines: a repeated ``message.created`` for one
  ``message_id``, a message deleted twice, a tag on a message that was never
  created (``GHOST_MESSAGE_ID``), an answer to a survey that was never sent
  (``GHOST_SURVEY_ID``), a lock that is never released, explicit ``null``
  optional fields and unknown extra fields;
* timestamps ``2024-07-15T09:15:02.123Z``, and a small fraction in other valid
  forms (``+02:00``/``-05:00`` offsets, microseconds, no fraction, a space
  and a lower-case ``z``).

``disorder`` duplicates and locally shuffles a list of events, ``iter_jsonl``
encodes them one JSON object per line.

Where each part lives:

* ``simulation``: one run, in order (directory, shifts, conversations, later changes);
* ``centre``: the seeded draws, the days and the events so far, shared by every part;
* ``vocabulary``: names, texts and weights; ``clock``: time units and RFC 3339 text;
* ``directory``, ``presence``, ``contacts``: who is there, and when;
* ``conversations`` (how one goes), ``messages``, ``handling`` (status changes,
  locks, topics, tags, CSAT);
* ``edge_cases``: the one-off cases still to make; ``output``: event ids and
  timestamps, ``disorder``, ``iter_jsonl``, ``key_of``.
"""

from __future__ import annotations

from convoflow.tools.simulate.clock import check_start
from convoflow.tools.simulate.edge_cases import GHOST_MESSAGE_ID, GHOST_SURVEY_ID
from convoflow.tools.simulate.output import disorder, iter_jsonl, key_of
from convoflow.tools.simulate.simulation import generate

__all__ = [
    "generate",
    "disorder",
    "iter_jsonl",
    "key_of",
    "check_start",
    "GHOST_MESSAGE_ID",
    "GHOST_SURVEY_ID",
]
