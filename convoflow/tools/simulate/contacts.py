"""Contacts: their identifiers over time, their language, and the attributes set on them.

A contact has a home channel, whose medium shapes its identifiers (a handle on
Twitter, a phone number on WhatsApp and SMS, a name elsewhere). About a third
change their identifiers over time; some have an empty or absent one; most get
attributes set, overwritten or cleared around their first conversation.
"""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import DAY, MS
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import EdgeCases
from convoflow.tools.simulate.vocabulary import ATTRIBUTES, CONTACT_NAMES, HANDLE_WORDS, LANGUAGES


class Contact:
    __slots__ = ("id", "home", "lang", "versions", "seen")

    def __init__(self, cid: str, home: int, lang, versions) -> None:
        self.id = cid
        self.home = home  # index of its channel in Directory.channels
        self.lang = lang
        self.versions = versions  # [(from_t, primary, secondary)], secondary None = absent
        self.seen = False  # its attributes are made with its first conversation

    def ident(self, t: int):
        """(primary, secondary) identifier at ``t``."""
        cur = self.versions[0]
        for v in self.versions:
            if v[0] <= t:
                cur = v
        return cur[1], cur[2]


class Contacts:
    def __init__(self, centre: Centre, directory: Directory, edge: EdgeCases) -> None:
        self.centre = centre
        self.directory = directory
        self.edge = edge

    def make(self, k: int, first_t: int) -> Contact:
        """Contact ``ct-<k + 1>``, whose first conversation starts at ``first_t``."""
        c = self.centre
        rng = c.rng
        edge = self.edge
        home = c.below(self.directory.n_channels)
        medium = self.directory.channels[home][1]
        name = c.pick(CONTACT_NAMES)

        def ident(name: str):
            if medium == "twitter":
                w = c.pick(HANDLE_WORDS)
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
        if r < 0.05 or edge.need_empty_secondary:
            edge.need_empty_secondary = False
            s = ""  # present but empty
        elif r < 0.07 or edge.need_empty_primary:
            edge.need_empty_primary = False
            p = ""  # empty primary on the first messages
            force_change = True
        versions = [(c.t0, p, s)]
        if force_change or rng.random() < 0.35:  # identifiers change over time
            if force_change:  # empty first, filled in some hours after its first message
                when = first_t + c.secs(3600, 6 * 3600)
            else:
                when = c.t0 + c.below(c.days * DAY // MS) * MS
            name2 = c.pick(CONTACT_NAMES)
            p2, s2 = ident(name2)
            if medium in ("whatsapp", "sms") and rng.random() < 0.7:
                p2 = p or p2  # same phone number, new profile name
            versions.append((when, p2, s2 if s2 is not None else name2))
        lang = c.pick(LANGUAGES)
        return Contact(f"ct-{k + 1:05d}", home, lang, versions)

    def attributes(self, ct: Contact, t: int) -> None:
        """Attributes of ``ct`` set (and some set again or cleared) from about ``t`` on."""
        c = self.centre
        rng = c.rng
        if rng.random() >= 0.7:
            return
        for aid, name, atype, values in rng.sample(ATTRIBUTES, rng.randint(1, 4)):
            ta = t + c.expo(600)
            base = {"contact_profile_id": ct.id, "attribute_id": aid,
                    "attribute_name": name, "attribute_type": atype}
            c.emit(ta, "contact.attribute_set", dict(base, value=c.pick(values)))
            if rng.random() < 0.2:
                ta += c.expo(8 * 3600)
                c.emit(ta, "contact.attribute_set", dict(base, value=c.pick(values)))
            if rng.random() < 0.08:
                ta += c.expo(6 * 3600)
                c.emit(ta, "contact.attribute_cleared",
                       {"contact_profile_id": ct.id, "attribute_id": aid})
                if rng.random() < 0.3:
                    ta += c.expo(6 * 3600)
                    c.emit(ta, "contact.attribute_set", dict(base, value=values[0]))
