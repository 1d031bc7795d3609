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
"""

from __future__ import annotations

import gc
import random
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from typing import Iterable, Iterator

import orjson

__all__ = [
    "generate",
    "disorder",
    "iter_jsonl",
    "key_of",
    "GHOST_MESSAGE_ID",
    "GHOST_SURVEY_ID",
]

MS = 1_000
SEC = 1_000_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_first = itemgetter(0)

#: message id of the one ``tag.applied`` that names a message never created
GHOST_MESSAGE_ID = "m-ghost-1"
#: survey id of the one ``csat.answered`` whose survey was never sent
GHOST_SURVEY_ID = "s-ghost-1"

_MEDIA = ["whatsapp", "twitter", "facebook", "sms", "messenger", "instagram"]
_MEDIUM_LABEL = {
    "whatsapp": "WhatsApp",
    "twitter": "Twitter",
    "facebook": "Facebook",
    "sms": "SMS",
    "messenger": "Messenger",
    "instagram": "Instagram",
}
# index 0 has a comma, index 1 is non-ASCII, index 3 has no display name
_CHANNEL_DISPLAY = [
    "Acme Support, EU",
    "Acme Kundendienst – Zürich ☎",
    "Acme Care",
    None,
    "Acme 日本 サポート",
    'Acme "VIP" line',
]
_TEAM_NAMES = [
    "Billing",
    "Tech Support",
    "Sales & Retention, NL",
    "Équipe Paris",
    "Escalations",
    "Social Care",
]
# UTC hour (as minutes) when a zone's shift starts: Europe, US East, US West, APAC
_ZONE_START_MIN = [6 * 60 + 30, 13 * 60, 16 * 60, 23 * 60]
_FIRST = ["Emma", "Liam", "Sofía", "Jürgen", "Zoë", "Noah", "Renée", "Łukasz",
          "Aoife", "Mateo", "Søren", "Yara", "Olivia", "Ömer", "Chloé", "Sven"]
_FIRST_ASCII = ["emma", "liam", "sofia", "juergen", "zoe", "noah", "renee", "lukasz",
                "aoife", "mateo", "soeren", "yara", "olivia", "oemer", "chloe", "sven"]
_LAST = ["de Vries", "O'Brien", "García", "Müller", "Jansen", "Smith", "Dubois",
         "Nowak", "Kelly", "Rossi", "Hansen", "Haddad", "Brown", "Yılmaz", "Martin", "Berg"]
_LAST_ASCII = ["devries", "obrien", "garcia", "mueller", "jansen", "smith", "dubois",
               "nowak", "kelly", "rossi", "hansen", "haddad", "brown", "yilmaz", "martin", "berg"]
_VA_NAMES = ["Ava", "Max (bot)", "Acme Assistent", "Chloé-bot"]
_TOPICS = ["Billing question", "Delivery, late", 'Refund "urgent"', "Product info",
           "Account – login", "Complaint", "Cancellation", "Feedback 💬"]
_TAGS = ["vip", "follow-up", "angry 😠", "spam", "bug, confirmed", "needs \"review\""]
_CONTACT_NAMES = ["Emma de Vries", "Liam O'Brien", "José García", "Zoë Müller",
                  "François Lefèvre", "Søren Kierkegaard", "Łucja Nowak", "Ayşe Yılmaz",
                  "张伟", "Олег Петров", "Nguyễn Văn An", "Mia Johnson", "Noah Smith",
                  "Ömer Çelik", "Chloé Dubois", "Jürgen Groß", "Anna, from Sales", "علي حسن"]
_HANDLE_WORDS = ["sunny", "mike", "travel", "coffee", "gamer", "jules", "nina", "bart",
                 "kiki", "dev", "moon", "piet"]
_LANGS = ["en"] * 12 + ["nl"] * 3 + ["fr"] * 2 + ["de"] * 2 + [None]
_INBOUND = {
    "en": ["Hi, my order hasn't arrived yet", "Can I change my delivery address?",
           "I was charged twice!!", "Where is my refund? Order #12345",
           "Hello, I need help with my account, please",
           'The app says "error 500" when I log in', "Thanks, that worked 👍",
           "+1 for the previous question", "-- sent from my phone",
           "=SUM(A1:A2) is what I typed in the form",
           "Line one\nline two, with a comma", "@acme why is your site down?",
           "ok", "Any update? It's been 2 days…"],
    "nl": ["Hallo, mijn pakket is nog niet bezorgd", "Kan ik mijn bestelling annuleren?",
           "Ik heb een vraag over mijn factuur, nummer 2024-0042", "Bedankt voor de hulp! 😊",
           "Waarom is het \"gratis\" proefabonnement niet gratis?"],
    "fr": ["Bonjour, ma commande n'est pas arrivée", "Où est mon remboursement ?",
           "Merci beaucoup, c'est réglé", "J'ai un problème avec l'appli « Acme »"],
    "de": ["Guten Tag, meine Bestellung ist noch nicht da", "Ich möchte mein Abo kündigen",
           "Danke für die schnelle Hilfe!", "Größe passt nicht – Umtausch möglich?"],
}
_REPLIES = {
    "en": ["Hi, thanks for reaching out! Could you share your order number?",
           "I'm sorry about that. I've issued a refund of €12,50.",
           'Please try "Forgot password" on the login page.',
           "=== Update ===\nYour parcel is on its way.",
           "- Step 1: open the app\n- Step 2: tap Settings",
           "+ We've added a voucher to your account",
           "Thanks for waiting 🙏", "@you: fixed, can you check?"],
    "nl": ["Hoi! Wat vervelend. Mag ik je ordernummer?", "Ik heb het voor je aangepast, fijne dag!",
           "Je pakket wordt morgen bezorgd, tussen 9:00 en 13:00."],
    "fr": ["Bonjour ! Pouvez-vous me donner votre numéro de commande ?",
           "C'est fait, bonne journée « et merci » !"],
    "de": ["Hallo! Könnten Sie mir Ihre Bestellnummer schicken?",
           "Erledigt – viele Grüße, Ihr Acme-Team"],
}
_VA_TEXTS = ["Hi! I'm Acme's virtual assistant. How can I help?",
             "Please choose: 1) Orders, 2) Billing, 3) Something else",
             "I found this article: https://help.acme.example/a/42",
             "I'm connecting you with a colleague…", "Glad I could help! Anything else?"]
_AUTO_TEXTS = ["Thanks for your message! We usually reply within 1 hour.",
               "We're closed right now; we'll get back to you tomorrow, 08:00–20:00."]
_PROACTIVE = ["Your order #A-1001 has shipped 📦", "Hi! Your appointment is tomorrow at 10:00, reply YES to confirm.",
              "Reminder: your subscription renews on 01-08."]
_EDITS = ["(edited) Sorry, typo: order #12346", "Correction: refund is €15,00, not €12,50",
          "", "Updated:\n\"new\" tracking link sent"]
_RESOLVE_REASONS = ["Solved", "Information provided", "Refund issued", "Spam",
                    "No response needed", "Duplicate, see other conversation"]
_RESOLVE_COMMENTS = ["Customer confirmed, closing", 'Refund of €12,50 issued; "goodwill" gesture',
                     "Escalated to 2nd line\nticket #4711", "=follow up next week",
                     "Kunde zufrieden – erledigt ✅", "-"]
_HANDOVER_REASONS = ["CONTACT_REQUESTED_AGENT", "INTENT_NOT_RECOGNIZED", "ESCALATION",
                     "CONTACT_REQUESTED_AGENT"]
_FOLLOW_Q = ["What could we improve?", "Wat kunnen we beter doen?", "Why this score?"]
_FOLLOW_A = ["Faster replies, please", 'Great service, "Jan" was very helpful!',
             "Trop lent,\nmais poli", "👍", "-", "=1+1", ""]
_ATTRS = [
    ("at-1", "Customer tier", "LIST", ["Gold", "Silver", "Bronze", "Platinum, legacy"]),
    ("at-2", "Lifetime value", "NUMBER", ["1234.50", "0", "-12.5", "99", "1e3"]),
    ("at-3", "Newsletter", "BOOLEAN", ["true", "false"]),
    ("at-4", "Birthday", "DATE", ["1990-04-12", "1985-12-31", "2001-02-28"]),
    ("at-5", "Notes", "TEXT", ['Prefers "WhatsApp", not email', "Line 1\nLine 2",
                               "Spricht Deutsch – höflich", "🎉 loyal since 2015", ""]),
    ("at-6", "Address", "TEXT", ["Keizersgracht 123, 1015 CJ Amsterdam",
                                 "1 Rue de Rivoli, 75001 Paris", "Hauptstraße 5\n10115 Berlin"]),
    ("at-7", "Order number", "TEXT", ["=HYPERLINK(\"x\")", "+31-2024-001", "A-1001", "@home"]),
]
_HOUR_WEIGHTS = [3, 2, 2, 2, 2, 3, 5, 7, 9, 10, 10, 10, 10, 10, 11, 11, 10, 9, 8, 7, 6, 5, 4, 3]
_HOURS = list(range(24))
_HOUR_CUM = [sum(_HOUR_WEIGHTS[: i + 1]) for i in range(24)]
_SCORES = [1, 2, 3, 4, 5]
_SCORE_W = [5, 7, 13, 30, 45]


def _parse_start(start: str) -> int:
    text = start.strip().replace(" ", "T", 1)
    if text[-1:] in "Zz":
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // timedelta(microseconds=1)


_FIRST_START = _parse_start("0010-01-01T00:00:00Z")  # teams are created up to a few years before the start
_LAST_END = _parse_start("9999-12-24T00:00:00Z")  # the last events come up to two days after the last day


def check_start(start: str, days: int = 1) -> None:
    """ValueError with a one-line reason when ``generate`` cannot start at ``start`` for ``days`` days."""
    try:
        t = _parse_start(start)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"{start!r} is not a date-time such as 2024-07-15T00:00:00Z") from None
    if t < _FIRST_START or t + days * 86_400_000_000 > _LAST_END:
        raise ValueError(f"{start!r}: the {days} simulated days must lie between 0010-01-01 and 9999-12-24")


class _Fmt:
    """RFC 3339 formatting of epoch microseconds, with a cache of dates."""

    def __init__(self) -> None:
        self._dates: dict[int, str] = {}
        self._minutes: dict[int, str] = {}

    def std(self, t: int) -> str:
        """The common form, ``2024-07-15T09:15:02.123Z`` (fast path)."""
        m, r = divmod(t, MIN)
        p = self._minutes.get(m)
        if p is None:
            d, h, mi, _, _ = self.parts(m * MIN)
            p = self._minutes[m] = f"{d}T{h:02d}:{mi:02d}:"
        s, us = divmod(r, SEC)
        return f"{p}{s:02d}.{us // 1000:03d}Z"

    def parts(self, t: int) -> tuple[str, int, int, int, int]:
        day, r = divmod(t, DAY)
        d = self._dates.get(day)
        if d is None:
            d = (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%d")
            self._dates[day] = d
        h, r = divmod(r, HOUR)
        m, r = divmod(r, MIN)
        s, us = divmod(r, SEC)
        return d, h, m, s, us

    def ms(self, t: int, sep: str = "T", z: str = "Z") -> str:
        d, h, m, s, us = self.parts(t)
        return f"{d}{sep}{h:02d}:{m:02d}:{s:02d}.{us // 1000:03d}{z}"

    def micro(self, t: int) -> str:
        d, h, m, s, us = self.parts(t)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{us:06d}Z"

    def whole(self, t: int) -> str:
        d, h, m, s, _ = self.parts(t)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}Z"

    def offset(self, t: int, minutes: int) -> str:
        d, h, m, s, us = self.parts(t + minutes * MIN)
        sign = "+" if minutes >= 0 else "-"
        hh, mm = divmod(abs(minutes), 60)
        return f"{d}T{h:02d}:{m:02d}:{s:02d}.{us // 1000:03d}{sign}{hh:02d}:{mm:02d}"


class _Contact:
    __slots__ = ("id", "home", "lang", "versions", "seen")

    def __init__(self, cid: str, home: int, lang, versions) -> None:
        self.id = cid
        self.home = home
        self.lang = lang
        self.versions = versions  # [(from_t, primary, secondary)], secondary None = absent
        self.seen = False

    def ident(self, t: int):
        cur = self.versions[0]
        for v in self.versions:
            if v[0] <= t:
                cur = v
        return cur[1], cur[2]


class _Conv:
    __slots__ = ("id", "ct", "ch", "lang", "msgs", "inbound", "topics", "medium")

    def __init__(self, cid: str, ct: _Contact, ch: str, medium: str) -> None:
        self.id = cid
        self.ct = ct
        self.ch = ch
        self.medium = medium
        self.lang = ct.lang
        self.msgs: list[str] = []
        self.inbound: list[str] = []
        self.topics: list[str] = []


class _Sim:
    def __init__(self, seed: int, agents: int, teams: int, conversations: int, days: int,
                 t0: int, channels: int, virtual_agents: int) -> None:
        self.rng = random.Random(seed)
        self.rnd = self.rng.random
        self.t0 = t0
        self.days = days
        self.end = t0 + days * DAY
        self.n_agents = agents
        self.n_teams = teams
        self.n_conversations = conversations
        self.n_channels = channels
        self.n_va = virtual_agents
        self.out: list[tuple[int, dict]] = []
        self.n_msg = 0
        self.n_lock = 0
        self.n_survey = 0
        # one-off edge cases still to produce
        self.early_answers = 2
        self.need_dup_created = True
        self.need_double_delete = True
        self.need_ghost_tag = True
        self.need_unreleased = 2
        self.need_zero_presence = True
        self.need_topic_removed = True
        self.need_tag_removed = True
        self.need_update = True
        self.need_delete = True
        self.need_partial = True
        self.need_ghost_va = virtual_agents > 0
        self.need_ghost_channel = True
        self.need_error_handover = True
        self.need_empty_primary = True
        self.need_empty_secondary = True
        self.mid = t0 + days * DAY // 2
        self.deleted_topic = "tp-6"
        self.deleted_tag = "tg-4"

    # ----------------------------------------------------------------- helpers
    def emit(self, t: int, typ: str, fields: dict) -> dict:
        e = {"event_id": "", "type": typ, "occurred_at": ""}
        e.update(fields)
        self.out.append((t, e))
        return e

    def secs(self, lo: float, hi: float) -> int:
        """A random duration in [lo, hi] seconds, in whole milliseconds."""
        lo_ms = int(lo * 1000)
        return (lo_ms + int(self.rnd() * (int(hi * 1000) - lo_ms + 1))) * MS

    def below(self, n: int) -> int:
        """A random int in [0, n) (cheaper than randrange, deterministic)."""
        return int(self.rnd() * n)

    def pick(self, seq):
        return seq[int(self.rnd() * len(seq))]

    def expo(self, mean_s: float, cap_s: float | None = None) -> int:
        v = self.rng.expovariate(1.0 / mean_s)
        if cap_s is not None and v > cap_s:
            v = cap_s
        return max(1, int(v * 1000)) * MS

    # --------------------------------------------------------------- directory
    def directory(self) -> None:
        rng = self.rng
        t = self.t0 + 1 * SEC
        self.channels = []
        for i in range(self.n_channels):
            medium = _MEDIA[i % len(_MEDIA)]
            cid = f"ch-{i + 1}"
            self.channels.append((cid, medium))
            suffix = "" if i < len(_MEDIA) else f" {i + 1}"
            f = {"channel_id": cid, "medium": medium,
                 "name": f"Acme {_MEDIUM_LABEL[medium]}{suffix}"}
            disp = _CHANNEL_DISPLAY[i % len(_CHANNEL_DISPLAY)]
            if disp is not None:
                f["display_name"] = disp + suffix
            self.emit(t, "channel.upserted", f)
            t += 137 * MS
        self.ghost_channel = (f"ch-{self.n_channels + 1}", "whatsapp")

        self.teams = [f"t-{i + 1}" for i in range(self.n_teams)]
        for i, tid in enumerate(self.teams):
            created = self.t0 - rng.randint(30, 700) * DAY + rng.randint(8 * 3600, 17 * 3600) * SEC
            f = {"team_id": tid, "name": _TEAM_NAMES[i % len(_TEAM_NAMES)]
                 + ("" if i < len(_TEAM_NAMES) else f" {i + 1}"),
                 "created_at": self.fmt.offset(created, 120) if i == 1 else self.fmt.whole(created)}
            self.emit(t, "team.upserted", f)
            t += 137 * MS
        self.ghost_team = f"t-{self.n_teams + 1}"

        # agents: index n_agents is the ghost agent (never upserted), ghost team
        self.agent_ids = [f"a-{i + 1}" for i in range(self.n_agents + 1)]
        self.agent_team = [self.teams[i % self.n_teams] for i in range(self.n_agents)] + [self.ghost_team]
        # a few agents also work for a second team
        self.agent_team2 = [
            (self.teams[(i + 1) % self.n_teams] if self.n_teams > 1 and i % 7 == 3 else None)
            for i in range(self.n_agents)
        ] + [None]
        self.agent_zone = [(i % self.n_teams) % len(_ZONE_START_MIN) for i in range(self.n_agents)] + [0]
        self.agent_names = []
        for i in range(self.n_agents):
            fi = (i * 7 + 3) % len(_FIRST)
            la = (i * 5 + 1) % len(_LAST)
            name = f"{_FIRST[fi]} {_LAST[la]}"
            self.agent_names.append(name)
            f = {"agent_id": self.agent_ids[i], "name": name}
            if i != 4:  # one agent without email and reference
                f["email"] = f"{_FIRST_ASCII[fi]}.{_LAST_ASCII[la]}{i + 1}@acme.example"
                f["reference"] = f"EMP-{1000 + i + 1}"
            self.emit(t, "agent.upserted", f)
            t += 137 * MS

        self.va_ids = [f"va-{i + 1}" for i in range(self.n_va)]
        for i, vid in enumerate(self.va_ids):
            self.emit(t, "virtual_agent.upserted",
                      {"virtual_agent_id": vid, "name": _VA_NAMES[i % len(_VA_NAMES)]})
            t += 137 * MS
        self.ghost_va = f"va-{self.n_va + 1}"

        # topics tp-1..tp-6 upserted, tp-7 ghost; tags tg-1..tg-5 upserted, tg-6 ghost
        self.topic_ids = [f"tp-{i + 1}" for i in range(7)]
        for i in range(6):
            self.emit(t, "topic.upserted", {"topic_id": self.topic_ids[i], "name": _TOPICS[i]})
            t += 137 * MS
        self.tag_ids = [f"tg-{i + 1}" for i in range(6)]
        for i in range(5):
            self.emit(t, "tag.upserted", {"tag_id": self.tag_ids[i], "name": _TAGS[i]})
            t += 137 * MS

    def directory_later(self) -> None:
        # one agent renamed (whole record replaced; keeps email and reference)
        i = 1 if self.n_agents > 1 else 0
        t = self.t0 + self.days * DAY * 2 // 5 + 17 * MIN + 333 * MS
        fi = (i * 7 + 3) % len(_FIRST)
        la = (i * 5 + 1) % len(_LAST)
        f = {"agent_id": self.agent_ids[i], "name": f"{_FIRST[fi]} {_LAST[la]}-Okafor"}
        if i != 4:
            f["email"] = f"{_FIRST_ASCII[fi]}.{_LAST_ASCII[la]}{i + 1}@acme.example"
            f["reference"] = f"EMP-{1000 + i + 1}"
        self.emit(t, "agent.upserted", f)
        self.emit(self.mid, "topic.deleted", {"topic_id": self.deleted_topic})
        self.emit(self.mid + 250 * MS, "tag.deleted", {"tag_id": self.deleted_tag})

    # ---------------------------------------------------------------- presence
    def presence(self) -> None:
        rng = self.rng
        nb = self.days * 24 + 48
        self.buckets: list[list[tuple[int, int, int]]] = [[] for _ in range(nb)]
        for a in range(self.n_agents + 1):
            aid = self.agent_ids[a]
            zone_min = _ZONE_START_MIN[self.agent_zone[a]]
            for d in range(self.days):
                if rng.random() < 0.08 and not (a == 0 and d == self.days - 1):
                    continue  # day off
                s = self.t0 + d * DAY + (zone_min + rng.randint(-45, 45)) * MIN + rng.randint(0, 59999) * MS
                e = s + rng.randint(450, 540) * MIN + rng.randint(0, 59999) * MS
                self.add_shift(s, e, a)
                t = s

                def ch(t: int, state: str, away: str | None = None, null_away: bool = False) -> None:
                    f = {"agent_id": aid, "state": state}
                    if away is not None:
                        f["away_state"] = away
                    elif null_away:
                        f["away_state"] = None
                    self.emit(t, "presence.changed", f)

                ch(t, "AVAILABLE")
                if rng.random() < 0.12:  # reconnect: identical state repeated
                    ch(t + self.secs(20, 600), "AVAILABLE")
                plan = []
                plan.append((s + 2 * HOUR + self.secs(-1200, 1200), self.secs(600, 900), "Break"))
                plan.append((s + 4 * HOUR + self.secs(-1800, 1800), self.secs(1800, 3600), "Lunch"))
                if rng.random() < 0.5:
                    plan.append((s + 6 * HOUR + self.secs(-900, 900), self.secs(600, 900), "Break"))
                if rng.random() < 0.15:
                    plan.append((s + 5 * HOUR + self.secs(600, 1200), self.secs(2700, 5400), "Training"))
                for _ in range(rng.randint(0, 2)):
                    plan.append((s + self.secs(3600, 7 * 3600), self.secs(120, 600), "Break"))
                plan.sort()
                cursor = t + MIN
                for at, dur, away in plan:
                    at = max(at, cursor + MIN)
                    if at + dur >= e - 10 * MIN:
                        break
                    r = rng.random()
                    if r < 0.08:
                        ch(at, "AWAY", null_away=rng.random() < 0.5)  # no custom away state
                    else:
                        ch(at, "AWAY", away)
                    back = at + dur
                    if r >= 0.08 and rng.random() < 0.08:
                        ch(at + dur // 3, "AWAY", away)  # repeated identical state
                    if rng.random() < 0.08:
                        ch(at + dur // 2, "AWAY", "Meeting")  # away state change
                    if self.need_zero_presence and away == "Lunch":
                        # zero-length interval: AVAILABLE and AWAY in the same millisecond
                        self.need_zero_presence = False
                        ch(back, "AVAILABLE")
                        ch(back, "AWAY", "Coffee ☕")
                        back += self.secs(60, 180)
                    ch(back, "AVAILABLE")
                    cursor = back
                if a == 0 and d == self.days - 1:
                    continue  # never goes OFFLINE: an ongoing interval
                ch(e, "OFFLINE")
                if rng.random() < 0.05:
                    ch(e + self.secs(30, 300), "OFFLINE")  # repeated OFFLINE

    def add_shift(self, s: int, e: int, a: int) -> None:
        b0 = max(0, (s - self.t0) // HOUR)
        b1 = min(len(self.buckets) - 1, (e - self.t0) // HOUR)
        sh = (s, e, a)
        for b in range(b0, b1 + 1):
            self.buckets[b].append(sh)

    def pick_agent(self, t: int, prefer: int | None = None, exclude: int | None = None):
        """An agent on shift at t (or the next one to start); (agent, time) or None."""
        rng = self.rng
        b = (t - self.t0) // HOUR
        if b < 0:
            b = 0
        nb = len(self.buckets)
        if b >= nb:
            return None
        cands = [a for (s, e, a) in self.buckets[b] if s <= t < e - 10 * MIN and a != exclude]
        if cands:
            if prefer is not None and prefer in cands and rng.random() < 0.8:
                return prefer, t
            return self.pick(cands), t
        for bb in range(b, min(nb, b + 36)):
            best = None
            for (s, e, a) in self.buckets[bb]:
                if s > t and a != exclude and (best is None or s < best[0]):
                    best = (s, a)
            if best is not None:
                return best[1], best[0] + self.secs(30, 900)
        return None

    def team_of(self, a: int) -> str:
        t2 = self.agent_team2[a]
        if t2 is not None and self.rng.random() < 0.35:
            return t2
        return self.agent_team[a]

    # ----------------------------------------------------------------- contacts
    def make_contact(self, k: int, first_t: int) -> _Contact:
        rng = self.rng
        home = self.below(self.n_channels)
        medium = self.channels[home][1]
        name = self.pick(_CONTACT_NAMES)

        def ident(name: str):
            if medium == "twitter":
                w = self.pick(_HANDLE_WORDS)
                return f"@{w}_{rng.randint(1, 9999)}", (name if rng.random() < 0.8 else None)
            if medium in ("whatsapp", "sms"):
                phone = f"+{rng.choice(['31', '32', '49', '33', '44'])}6{rng.randint(10000000, 99999999)}"
                sec = name if (medium == "whatsapp" and rng.random() < 0.8) else None
                return phone, sec
            sec = (f"{rng.randint(10**14, 10**15 - 1)}" if rng.random() < 0.6 else None)
            return name, sec

        p, s = ident(name)
        r = rng.random()
        force_change = False
        if r < 0.05 or self.need_empty_secondary:
            self.need_empty_secondary = False
            s = ""  # present but empty
        elif r < 0.07 or self.need_empty_primary:
            self.need_empty_primary = False
            p = ""  # empty primary on the first messages
            force_change = True
        versions = [(self.t0, p, s)]
        if force_change or rng.random() < 0.35:  # identifiers change over time
            if force_change:  # empty first, filled in some hours after its first message
                when = first_t + self.secs(3600, 6 * 3600)
            else:
                when = self.t0 + self.below(self.days * DAY // MS) * MS
            name2 = self.pick(_CONTACT_NAMES)
            p2, s2 = ident(name2)
            if medium in ("whatsapp", "sms") and rng.random() < 0.7:
                p2 = p or p2  # same phone number, new profile name
            versions.append((when, p2, s2 if s2 is not None else name2))
        lang = self.pick(_LANGS)
        return _Contact(f"ct-{k + 1:05d}", home, lang, versions)

    def attributes(self, ct: _Contact, t: int) -> None:
        rng = self.rng
        if rng.random() >= 0.7:
            return
        for aid, name, atype, values in rng.sample(_ATTRS, rng.randint(1, 4)):
            ta = t + self.expo(600)
            base = {"contact_profile_id": ct.id, "attribute_id": aid,
                    "attribute_name": name, "attribute_type": atype}
            self.emit(ta, "contact.attribute_set", dict(base, value=self.pick(values)))
            if rng.random() < 0.2:
                ta += self.expo(8 * 3600)
                self.emit(ta, "contact.attribute_set", dict(base, value=self.pick(values)))
            if rng.random() < 0.08:
                ta += self.expo(6 * 3600)
                self.emit(ta, "contact.attribute_cleared",
                          {"contact_profile_id": ct.id, "attribute_id": aid})
                if rng.random() < 0.3:
                    ta += self.expo(6 * 3600)
                    self.emit(ta, "contact.attribute_set", dict(base, value=values[0]))

    # ----------------------------------------------------------------- messages
    def message(self, c: _Conv, t: int, direction: str, origin: str, content, *,
                mtype: str = "TEXT", agent: int | None = None, team: str | None = None,
                va: str | None = None, omt: str | None = None, sut: str | None = None,
                idents: bool | None = None, channel: str | None = None) -> str:
        rng = self.rng
        self.n_msg += 1
        mid = f"m-{self.n_msg:07d}"
        f = {"message_id": mid, "conversation_id": c.id, "channel_id": channel or c.ch,
             "contact_profile_id": c.ct.id, "direction": direction, "message_type": mtype,
             "origin": origin}
        if omt is not None:
            f["outbound_message_type"] = omt
        if agent is not None:
            f["agent_id"] = self.agent_ids[agent]
            if team is not None:
                f["team_id"] = team
        if va is not None:
            f["virtual_agent_id"] = va
        if idents is None:
            idents = rng.random() < (0.92 if direction == "INBOUND" else 0.3)
        if idents:
            p, s = c.ct.ident(t)
            f["contact_primary_identifier"] = p
            if s is not None:
                f["contact_secondary_identifier"] = s
        if sut is not None:
            f["system_user_type"] = sut
        if content is not None:
            f["content"] = content
        if (direction == "INBOUND" and c.medium in ("twitter", "facebook", "instagram")
                and rng.random() < 0.3):
            f["post_url"] = f"https://{c.medium}.example/p/{c.id}/{mid}"
        r = rng.random()
        if r < 0.01:
            f["language"] = None  # explicit null: same as absent
        elif r < 0.85 and c.lang is not None:
            f["language"] = c.lang
        if rng.random() < 0.005:
            f["x_producer"] = "sim-1.0"  # unknown extra field: ignored
        self.emit(t, "message.created", f)
        c.msgs.append(mid)
        if direction == "INBOUND":
            c.inbound.append(mid)
        # edits and deletions, later
        r = rng.random()
        if (agent is not None and r < 0.04) or r < 0.012 or (self.need_update and agent is not None):
            self.need_update = False
            tu = t + self.secs(5, 300)
            u = {"message_id": mid, "conversation_id": c.id,
                 "content": self.pick(_EDITS)}
            if rng.random() < 0.2:
                u["system_user_type"] = "EDITED"
            self.emit(tu, "message.updated", u)
            if rng.random() < 0.1:
                self.emit(tu + self.secs(5, 60), "message.updated",
                          {"message_id": mid, "conversation_id": c.id, "content": content or "…"})
        r = rng.random()
        if r < 0.006 or (self.need_delete and direction == "INBOUND" and len(c.msgs) > 3):
            self.need_delete = False
            td = t + self.expo(1800)
            self.emit(td, "message.deleted", {"message_id": mid, "conversation_id": c.id})
            if self.need_double_delete:
                self.need_double_delete = False
                self.emit(td + self.secs(1, 600), "message.deleted",
                          {"message_id": mid, "conversation_id": c.id})
        if self.need_dup_created and direction == "INBOUND" and len(c.msgs) > 2:
            # the same message delivered again by the platform, as a new event: ignored
            self.need_dup_created = False
            g = dict(f)
            g["content"] = "(redelivered) " + (content or "")
            self.emit(t + self.secs(1, 30), "message.created", g)
        return mid

    def inbound(self, c: _Conv, t: int, channel: str | None = None) -> str:
        rng = self.rng
        r = rng.random()
        texts = _INBOUND[c.lang or "en"]
        content = self.pick(texts)
        if r < 0.86:
            mtype = "TEXT"
        elif r < 0.92:
            mtype = "IMAGE"
            content = None if rng.random() < 0.6 else "photo of the damage, see attached"
        else:
            mtype = ("VIDEO", "AUDIO", "FILE", "LOCATION", "STICKER")[self.below(5)]
            content = None
        return self.message(c, t, "INBOUND", "CONTACT", content, mtype=mtype, channel=channel)

    def more_inbound(self, c: _Conv, t: int) -> int:
        """The contact goes on typing: 0-2 more inbound messages (no new NEW)."""
        rng = self.rng
        for _ in range((rng.random() < 0.5) + (rng.random() < 0.2)):
            t += self.secs(5, 120)
            self.inbound(c, t)
        return t

    def reply(self, c: _Conv, t: int, a: int, team: str) -> str:
        rng = self.rng
        texts = _REPLIES[c.lang or "en"]
        mtype = "TEXT" if rng.random() < 0.95 else ("IMAGE", "FILE")[self.below(2)]
        return self.message(c, t, "OUTBOUND", "AGENT", self.pick(texts),
                            mtype=mtype, agent=a, team=team, omt="REPLY",
                            sut="AGENT" if rng.random() < 0.1 else None)

    # ------------------------------------------------------------ status & co
    def status(self, c: _Conv, t: int, status: str, *, agent: int | None = None,
               team: str | None = None, va: str | None = None, **kw) -> None:
        f = {"conversation_id": c.id, "status": status}
        if agent is not None:
            f["agent_id"] = self.agent_ids[agent]
            if team is not None:
                f["team_id"] = team
        if va is not None:
            f["virtual_agent_id"] = va
        f.update(kw)
        self.emit(t, "conversation.status_changed", f)

    def new(self, c: _Conv, t: int, started_by: str, inbound_id: str | None, **kw) -> None:
        f = {"started_by": started_by}
        if inbound_id is not None:
            f["inbound_message_id"] = inbound_id
        f.update(kw)
        self.status(c, t, "NEW", **f)

    def resolve_by_agent(self, c: _Conv, t: int, a: int, team: str) -> None:
        rng = self.rng
        kw = {"resolved_by": "AGENT", "resolve_trigger": "HUMAN_AGENT"}
        if rng.random() < 0.7:
            kw["resolve_reason"] = self.pick(_RESOLVE_REASONS)
        if rng.random() < 0.3:
            kw["resolve_comment"] = self.pick(_RESOLVE_COMMENTS)
        self.status(c, t, "RESOLVED", agent=a, team=team, **kw)

    def lock(self, c: _Conv, t_acq: int, t_rel: int | None, a: int, team: str) -> None:
        rng = self.rng
        self.n_lock += 1
        lid = f"l-{self.n_lock:06d}"
        base = {"lock_id": lid, "conversation_id": c.id, "agent_id": self.agent_ids[a]}
        r = rng.random()
        acq = dict(base)
        if r >= 0.05:
            acq["team_id"] = team
        self.emit(t_acq, "lock.acquired", acq)
        if t_rel is None:
            return  # never released: not counted anywhere
        rel = dict(base)
        if r < 0.05 or rng.random() < 0.5:
            rel["team_id"] = team  # team from the release when the acquire has none
        self.emit(t_rel, "lock.released", rel)

    def who(self, a: int | None, team: str | None, va: str | None) -> dict:
        f = {}
        if a is not None:
            f["agent_id"] = self.agent_ids[a]
            if team is not None:
                f["team_id"] = team
        if va is not None:
            f["virtual_agent_id"] = va
        return f

    def topic(self, c: _Conv, t: int, a: int | None = None, team: str | None = None,
              va: str | None = None) -> int:
        rng = self.rng
        r = rng.random()
        idx = 6 if r < 0.04 else self.below(6)  # tp-7 is a ghost topic
        tid = self.topic_ids[idx]
        if tid == self.deleted_topic and t >= self.mid:
            tid = self.topic_ids[0]
        who = self.who(a, team, va)
        self.emit(t, "topic.applied", dict(who, conversation_id=c.id, topic_id=tid))
        c.topics.append(tid)
        if rng.random() < 0.08 or self.need_topic_removed:
            self.need_topic_removed = False
            t += self.secs(5, 600)
            self.emit(t, "topic.removed", dict(who, conversation_id=c.id, topic_id=tid))
            if rng.random() < 0.5:
                t += self.secs(5, 600)
                self.emit(t, "topic.applied", dict(who, conversation_id=c.id, topic_id=tid))
        return t

    def tag(self, c: _Conv, t: int, a: int | None = None, team: str | None = None,
            va: str | None = None) -> int:
        rng = self.rng
        if not c.msgs:
            return t
        pool = c.inbound if (c.inbound and rng.random() < 0.8) else c.msgs
        mid = self.pick(pool)
        if self.need_ghost_tag:
            self.need_ghost_tag = False
            mid = GHOST_MESSAGE_ID
        r = rng.random()
        tid = self.tag_ids[5] if r < 0.04 else self.tag_ids[self.below(5)]  # tg-6 ghost
        if tid == self.deleted_tag and t >= self.mid:
            tid = self.tag_ids[0]
        who = self.who(a, team, va)
        f = dict(who, conversation_id=c.id, message_id=mid, tag_id=tid)
        self.emit(t, "tag.applied", f)
        if rng.random() < 0.3 and mid != GHOST_MESSAGE_ID:
            t += self.secs(1, 30)
            tid2 = self.tag_ids[self.below(5)]
            if tid2 != tid and not (tid2 == self.deleted_tag and t >= self.mid):
                self.emit(t, "tag.applied", dict(who, conversation_id=c.id, message_id=mid, tag_id=tid2))
        if rng.random() < 0.15 or self.need_tag_removed:
            self.need_tag_removed = False
            t += self.secs(5, 900)
            self.emit(t, "tag.removed", dict(f))
        return t

    def csat(self, c: _Conv, t: int, a: int | None, team: str | None) -> None:
        rng = self.rng
        self.n_survey += 1
        sid = f"s-{self.n_survey:06d}"
        ts = t + self.secs(5, 120)
        f = {"survey_id": sid, "conversation_id": c.id}
        f.update(self.who(a, team, None))
        self.emit(ts, "csat.sent", f)
        r = rng.random()
        if r < 0.12:
            return  # never answered
        ta = ts + self.expo(1200, cap_s=2 * 86400)
        if self.early_answers > 0 and rng.random() < 0.1:
            self.early_answers -= 1
            ta = ts - self.secs(1, 5)  # answer stamped before the send (clock skew)
        base = {"survey_id": sid, "conversation_id": c.id}
        if r < 0.24 or self.need_partial:
            self.need_partial = False
            g = dict(base, completed_status="PARTIALLY_COMPLETED")
            if rng.random() < 0.3:
                g["follow_up_question"] = self.pick(_FOLLOW_Q)
            self.emit(ta, "csat.answered", g)
            return
        if rng.random() < 0.08:  # first partial, then completed: the latest wins
            self.emit(ta, "csat.answered", dict(base, completed_status="PARTIALLY_COMPLETED"))
            ta += self.secs(10, 180)
        g = dict(base, completed_status="COMPLETED", score=rng.choices(_SCORES, _SCORE_W)[0])
        if rng.random() < 0.4:
            g["follow_up_question"] = self.pick(_FOLLOW_Q)
            g["follow_up_answer"] = self.pick(_FOLLOW_A)
        self.emit(ta, "csat.answered", g)

    # ------------------------------------------------------------ conversation
    def conversation(self, ci: int, t: int, ct: _Contact) -> None:
        rng = self.rng
        r = rng.random()
        if self.need_ghost_channel and ci >= 7:
            self.need_ghost_channel = False
            ch, medium = self.ghost_channel
        elif r < 0.01:
            ch, medium = self.ghost_channel
        elif r < 0.12:
            ch, medium = self.channels[self.below(self.n_channels)]
        else:
            ch, medium = self.channels[ct.home]
        c = _Conv(f"c-{ci + 1:06d}", ct, ch, medium)
        if not ct.seen:
            ct.seen = True
            self.attributes(ct, t + self.secs(10, 900))

        prev_agent = None
        if rng.random() < 0.03:
            # proactive outbound first
            pick = self.pick_agent(t)
            if pick is None:
                return
            a, t = pick
            team = self.team_of(a)
            self.message(c, t, "OUTBOUND", "AGENT", self.pick(_PROACTIVE),
                         mtype="TEMPLATE" if rng.random() < 0.6 else "TEXT",
                         agent=a, team=team, omt="PROACTIVE")
            if rng.random() < 0.35:
                # no answer expected: the agent resolves it right away
                self.resolve_by_agent(c, t + self.secs(2, 20), a, team)
                return
            t += self.expo(1800)
            prev_agent = a
        m1 = self.inbound(c, t)
        t += self.secs(0.05, 1.5)
        self.new(c, t, "CONTACT_MESSAGE", m1)
        if rng.random() < 0.1:
            t += self.secs(0.5, 3)
            self.message(c, t, "OUTBOUND", "AUTOMATION", self.pick(_AUTO_TEXTS),
                         sut="AUTOMATED_MESSAGE" if rng.random() < 0.5 else None)
        t = self.more_inbound(c, t)  # more messages while waiting: no new NEW

        resolved = False
        if self.va_ids and rng.random() < 0.3:
            t, resolved = self.va_phase(c, t)
            if resolved and rng.random() < 0.25:
                self.csat(c, t, None, None)
        cycles = 0
        while True:
            cycles += 1
            if resolved:
                if cycles > 5 or rng.random() >= 0.15:
                    return
                # reopened by a later inbound
                t += self.expo(4 * 3600, cap_s=2 * 86400)
                other = None
                if rng.random() < 0.03:
                    # the contact comes back on another channel of the same conversation
                    other = self.channels[self.below(self.n_channels)][0]
                    if other == c.ch:
                        other = None
                mi = self.inbound(c, t, channel=other)
                t += self.secs(0.05, 1.5)
                self.new(c, t, "CONTACT_MESSAGE", mi)
                t = self.more_inbound(c, t)
                resolved = False
            t, outcome, prev_agent = self.handle(c, t, prev_agent)
            if outcome == "open":
                return
            if outcome == "resolved":
                resolved = True
                continue
            if outcome == "left":
                if cycles > 4:
                    return
                continue
            # pending
            r = rng.random()
            if r < 0.65 and cycles <= 5:
                t += self.expo(45 * 60, cap_s=86400)
                mi = self.inbound(c, t)
                t += self.secs(0.05, 1.5)
                self.new(c, t, "CONTACT_MESSAGE", mi)
                t = self.more_inbound(c, t)
                continue
            if r < 0.83:
                t += self.secs(8 * 3600, 24 * 3600)
                self.status(c, t, "RESOLVED", resolved_by="SYSTEM", resolve_trigger="AUTO_RESOLVE")
                resolved = True
                continue
            return  # stays pending

    def va_phase(self, c: _Conv, t: int) -> tuple[int, bool]:
        rng = self.rng
        if self.need_ghost_va or rng.random() < 0.04:
            self.need_ghost_va = False
            va = self.ghost_va
        else:
            va = self.pick(self.va_ids)
        n = 1 + (rng.random() < 0.6) + (rng.random() < 0.3)
        for k in range(n):
            t += self.secs(0.8, 4)
            self.message(c, t, "OUTBOUND", "VIRTUAL_AGENT", self.pick(_VA_TEXTS),
                         va=va, sut="BOT" if rng.random() < 0.3 else None)
            if k == 0 and rng.random() < 0.3:
                t = self.topic(c, t + self.secs(0.1, 2), va=va)
            if k < n - 1 or rng.random() < 0.5:
                t += self.secs(8, 120)
                self.inbound(c, t)
        if rng.random() < 0.2:
            t = self.tag(c, t + self.secs(0.1, 2), va=va)
        t += self.secs(1, 5)
        if rng.random() < 0.4:
            self.status(c, t, "RESOLVED", va=va, resolved_by="VIRTUAL_AGENT",
                        resolve_trigger="VIRTUAL_AGENT")
            return t, True
        if self.need_error_handover or rng.random() < 0.2:
            self.need_error_handover = False
            reason = "ERROR"
        else:
            reason = self.pick(_HANDOVER_REASONS)
        kw = {"handover_reason": reason}
        if rng.random() < 0.97:
            kw["virtual_agent_id"] = va
        self.new(c, t, "VA_HANDED_OVER_CONVERSATION",
                 c.inbound[-1] if rng.random() < 0.7 else None, **kw)
        return t, False

    def handle(self, c: _Conv, t: int, prefer: int | None):
        """Agents pick up a conversation that entered the New queue at t.

        Returns (time, outcome, agent) with outcome open/resolved/pending/left.
        """
        rng = self.rng
        r = rng.random()
        if r < 0.035:
            return t, "open", prefer  # nobody picks it up
        if r < 0.085:
            t += self.expo(3 * 3600, cap_s=86400)
            if rng.random() < 0.5:
                self.status(c, t, "RESOLVED", resolved_by="BULK", resolve_trigger="AUTOMATION",
                            **({"resolve_reason": "Bulk resolved"} if rng.random() < 0.5 else {}))
            else:
                self.status(c, t, "RESOLVED", resolved_by="SYSTEM", resolve_trigger="AUTO_RESOLVE")
            return t, "resolved", prefer
        picker = None
        if rng.random() < 0.12:
            # cherry-picking: somebody opens it and leaves without doing anything
            pick = self.pick_agent(t + self.expo(240, cap_s=7200))
            if pick is not None:
                picker, tp = pick
                t_rel = tp + self.secs(4, 90)
                self.lock(c, tp, t_rel, picker, self.team_of(picker))
                t = t_rel
        pick = self.pick_agent(t + self.expo(360, cap_s=4 * 3600),
                               prefer if rng.random() < 0.7 else None, exclude=picker)
        if pick is None:
            return t, "open", prefer
        a, tl = pick
        team = self.team_of(a)
        if tl - t > 4 * MIN and rng.random() < 0.3:
            self.inbound(c, t + (tl - t) // 2)  # "hello??" while waiting
        t = tl
        if rng.random() < 0.1:
            # no-reply: read it and resolve it
            t += self.secs(8, 90)
            if rng.random() < 0.2:
                t = self.topic(c, t, a, team) + self.secs(1, 5)
            self.resolve_by_agent(c, t, a, team)
            self.lock(c, tl, t + self.secs(1, 15), a, team)
            if rng.random() < 0.3:
                self.csat(c, t, a, team)
            return t + 16 * SEC, "resolved", a
        rounds = 1 + (rng.random() < 0.75) + (rng.random() < 0.5) + (rng.random() < 0.3) + (rng.random() < 0.15)
        for k in range(rounds):
            t += self.secs(20, 240)
            self.reply(c, t, a, team)
            if rng.random() < 0.25:
                t += self.secs(3, 30)
                self.reply(c, t, a, team)
            if k == 0 and rng.random() < (0.45 if not c.topics else 0.1):
                t = self.topic(c, t + self.secs(2, 30), a, team)
            if rng.random() < 0.2:
                t = self.tag(c, t + self.secs(2, 30), a, team)
            if k < rounds - 1:
                t += self.secs(30, 300)
                self.inbound(c, t)
                t = self.more_inbound(c, t)
        t += self.secs(2, 40)
        r = rng.random()
        if ((self.need_unreleased == 2 and self.n_lock >= 40)
                or (self.need_unreleased == 1 and rng.random() < 0.01)):
            self.need_unreleased -= 1
            t_rel = None  # lock never released (session not counted)
        else:
            t_rel = t + self.secs(1, 20)
        if r < 0.52:
            self.resolve_by_agent(c, t, a, team)
            self.lock(c, tl, t_rel, a, team)
            if rng.random() < 0.55:
                self.csat(c, t, a, team)
            return t + 20 * SEC, "resolved", a
        if r < 0.9:
            self.status(c, t, "PENDING", agent=a, team=team)
            self.lock(c, tl, t_rel, a, team)
            return t + 20 * SEC, "pending", a
        if rng.random() < 0.3:
            self.new(c, t, "AGENT_MOVED", None, agent=a, team=team)
        self.lock(c, tl, t_rel, a, team)
        return t + 20 * SEC, "left", None

    # -------------------------------------------------------------------- run
    def run(self) -> list[dict]:
        rng = self.rng
        self.fmt = _Fmt()
        self.directory()
        self.presence()
        n = self.n_conversations
        starts = []
        span_days = self.days
        for _ in range(n):
            d = self.below(span_days)
            h = rng.choices(_HOURS, cum_weights=_HOUR_CUM)[0]
            t = self.t0 + d * DAY + h * HOUR + self.below(HOUR // MS) * MS
            if t < self.t0 + 2 * MIN:
                t = self.t0 + 2 * MIN + self.below(60_000) * MS
            starts.append(t)
        starts.sort()
        n_contacts = max(1, n // 2)
        deck = list(range(min(n, n_contacts)))
        for _ in range(n - len(deck)):
            deck.append(int(n_contacts * rng.random() ** 2))
        rng.shuffle(deck)
        contacts: dict[int, _Contact] = {}
        for ci, t in enumerate(starts):
            k = deck[ci]
            ct = contacts.get(k)
            if ct is None:
                ct = contacts[k] = self.make_contact(k, t)
            self.conversation(ci, t, ct)
        self.directory_later()
        if n:
            # an answer to a survey that was never sent
            self.emit(self.t0 + self.days * DAY * 3 // 4 + 123 * MS, "csat.answered",
                      {"survey_id": GHOST_SURVEY_ID, "conversation_id": "c-000001",
                       "completed_status": "COMPLETED", "score": 2})
        return self.finish()

    def finish(self) -> list[dict]:
        rng = self.rng
        fmt = self.fmt
        std = fmt.std
        out = self.out
        # a stable sort by time keeps emission order for ties (causal order)
        out.sort(key=_first)
        n = len(out)
        id_fmt = "e-%%0%dd" % max(6, len(str(n)))  # fixed width: string order = time order
        prev = -1
        events = []
        append = events.append
        for i in range(n):
            t, e = out[i]
            r = rng.random()
            if r < 0.978:
                s = std(t)
                v = t
            elif r < 0.985:
                s = fmt.offset(t, 120)
                v = t
            elif r < 0.988:
                s = fmt.offset(t, -300)
                v = t
            elif r < 0.995:
                nxt = out[i + 1][0] if i + 1 < n else t + MS
                v = t + (self.below(min(1000, nxt - t)) if nxt > t else 0)
                s = fmt.micro(v)
            elif r < 0.998 and t - t % SEC >= prev:
                v = t - t % SEC
                s = fmt.whole(v)
            else:
                s = fmt.ms(t, " ", "z")
                v = t
            prev = v
            e["event_id"] = id_fmt % (i + 1)
            e["occurred_at"] = s
            append(e)
        return events


def generate(seed: int = 1, agents: int = 20, teams: int = 4, conversations: int = 500,
             days: int = 3, start: str = "2024-07-15T00:00:00Z", channels: int = 4,
             virtual_agents: int = 2) -> list[dict]:
    """Events of a simulated contact centre, sorted by ``occurred_at``.

    Deterministic: the same arguments always return the same events.  Each
    event is a dict with ``event_id``, ``type``, ``occurred_at`` and the fields
    of its type; every event is valid per the event contract.
    """
    if agents < 1 or teams < 1 or channels < 1 or days < 1:
        raise ValueError("agents, teams, channels and days must be at least 1")
    if conversations < 0 or virtual_agents < 0:
        raise ValueError("conversations and virtual_agents must not be negative")
    sim = _Sim(seed, agents, teams, conversations, days, _parse_start(start),
               channels, virtual_agents)
    # millions of small dicts, no cycles: the cyclic GC would only slow this down
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return sim.run()
    finally:
        if was_enabled:
            gc.enable()


def disorder(events: list[dict], seed: int, duplicate_rate: float = 0.0,
             window: int = 0) -> list[dict]:
    """A new list of (copies of) the events, with duplicates and local disorder.

    Each event is followed by a duplicate (equal content, same ``event_id``)
    with probability ``duplicate_rate``; then every item moves at most
    ``window`` positions (a sort by position plus a random offset below
    ``window``; 0 keeps the order).  Deterministic given ``seed``.
    """
    rng = random.Random(seed)
    rnd = rng.random
    items = []
    for e in events:
        items.append(dict(e))
        if duplicate_rate > 0 and rnd() < duplicate_rate:
            items.append(dict(e))
    if window <= 0:
        return items
    keyed = [(i + rnd() * window, i) for i in range(len(items))]
    keyed.sort()
    return [items[i] for _, i in keyed]


def iter_jsonl(events: Iterable[dict]) -> Iterator[bytes]:
    """Each event as one orjson-encoded line ending in ``b"\\n"``."""
    dumps = orjson.dumps
    opt = orjson.OPT_APPEND_NEWLINE
    for e in events:
        yield dumps(e, option=opt)


_CONVERSATION_KEYED = ("message.", "conversation.", "lock.", "csat.", "topic.applied",
                       "topic.removed", "tag.applied", "tag.removed")


def key_of(event: dict) -> str:
    """The Kafka record key of an event, per the contract's topic table."""
    typ = event["type"]
    if typ.startswith(_CONVERSATION_KEYED):
        return event["conversation_id"]
    if typ == "presence.changed":
        return event["agent_id"]
    if typ.startswith("contact."):
        return event["contact_profile_id"]
    kind = typ.split(".", 1)[0]
    return f"{kind}:{event[kind + '_id']}"
