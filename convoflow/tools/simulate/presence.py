"""Agents' presence: a shift a day in their zone's hours, with breaks, and who is on shift when.

An agent starts a shift AVAILABLE, goes AWAY for breaks, lunch and sometimes
training (with a custom away state, or none), and ends OFFLINE; some days off,
some states repeated, shifts over UTC midnight. Agent ``a-1`` never goes
OFFLINE on the last day (an ongoing interval), and one lunch ends with a
zero-length interval.
"""
from __future__ import annotations

from convoflow.tools.simulate.centre import Centre
from convoflow.tools.simulate.clock import DAY, HOUR, MIN, MS
from convoflow.tools.simulate.directory import Directory
from convoflow.tools.simulate.edge_cases import EdgeCases
from convoflow.tools.simulate.vocabulary import ZONE_START_MIN

LAST_PICKUP = 10 * MIN  # an agent picks up no conversation this close to the end of a shift


class Presence:
    def __init__(self, centre: Centre, directory: Directory, edge: EdgeCases) -> None:
        self.centre = centre
        self.directory = directory
        self.edge = edge
        # per hour from t0: the (start, end, agent) shifts that overlap it
        self.buckets: list[list[tuple[int, int, int]]] = [[] for _ in range(centre.days * 24 + 48)]

    def shifts(self) -> None:
        """Every agent's shifts (the ghost agent's too), day by day, with their presence changes."""
        c = self.centre
        rng = c.rng
        d_ = self.directory
        for a in range(d_.n_agents + 1):
            zone_min = ZONE_START_MIN[d_.agent_zone[a]]
            for d in range(c.days):
                if rng.random() < 0.08 and not (a == 0 and d == c.days - 1):
                    continue  # day off
                s = c.t0 + d * DAY + (zone_min + rng.randint(-45, 45)) * MIN + rng.randint(0, 59999) * MS
                e = s + rng.randint(450, 540) * MIN + rng.randint(0, 59999) * MS
                self.add_shift(s, e, a)
                self.shift(d_.agent_ids[a], s, e, ongoing=a == 0 and d == c.days - 1)

    def shift(self, aid: str, s: int, e: int, ongoing: bool) -> None:
        """One shift's presence changes, from ``s`` to ``e`` (without the OFFLINE when ``ongoing``)."""
        c = self.centre
        rng = c.rng
        secs = c.secs

        def ch(t: int, state: str, away: str | None = None, null_away: bool = False) -> None:
            f = {"agent_id": aid, "state": state}
            if away is not None:
                f["away_state"] = away
            elif null_away:
                f["away_state"] = None
            c.emit(t, "presence.changed", f)

        t = s
        ch(t, "AVAILABLE")
        if rng.random() < 0.12:  # reconnect: identical state repeated
            ch(t + secs(20, 600), "AVAILABLE")
        plan = []
        plan.append((s + 2 * HOUR + secs(-1200, 1200), secs(600, 900), "Break"))
        plan.append((s + 4 * HOUR + secs(-1800, 1800), secs(1800, 3600), "Lunch"))
        if rng.random() < 0.5:
            plan.append((s + 6 * HOUR + secs(-900, 900), secs(600, 900), "Break"))
        if rng.random() < 0.15:
            plan.append((s + 5 * HOUR + secs(600, 1200), secs(2700, 5400), "Training"))
        for _ in range(rng.randint(0, 2)):
            plan.append((s + secs(3600, 7 * 3600), secs(120, 600), "Break"))
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
            if self.edge.need_zero_presence and away == "Lunch":
                # zero-length interval: AVAILABLE and AWAY in the same millisecond
                self.edge.need_zero_presence = False
                ch(back, "AVAILABLE")
                ch(back, "AWAY", "Coffee ☕")
                back += secs(60, 180)
            ch(back, "AVAILABLE")
            cursor = back
        if ongoing:
            return  # never goes OFFLINE: an ongoing interval
        ch(e, "OFFLINE")
        if rng.random() < 0.05:
            ch(e + secs(30, 300), "OFFLINE")  # repeated OFFLINE

    def add_shift(self, s: int, e: int, a: int) -> None:
        t0 = self.centre.t0
        b0 = max(0, (s - t0) // HOUR)
        b1 = min(len(self.buckets) - 1, (e - t0) // HOUR)
        sh = (s, e, a)
        for b in range(b0, b1 + 1):
            self.buckets[b].append(sh)

    def pick_agent(self, t: int, prefer: int | None = None, exclude: int | None = None):
        """An agent on shift at t (or the next one to start); (agent, time) or None."""
        c = self.centre
        b = (t - c.t0) // HOUR
        if b < 0:
            b = 0
        nb = len(self.buckets)
        if b >= nb:
            return None
        cands = [a for (s, e, a) in self.buckets[b] if s <= t < e - LAST_PICKUP and a != exclude]
        if cands:
            if prefer is not None and prefer in cands and c.rng.random() < 0.8:
                return prefer, t
            return c.pick(cands), t
        for bb in range(b, min(nb, b + 36)):
            best = None
            for (s, e, a) in self.buckets[bb]:
                if s > t and a != exclude and (best is None or s < best[0]):
                    best = (s, a)
            if best is not None:
                return best[1], best[0] + c.secs(30, 900)
        return None
