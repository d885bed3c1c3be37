"""Retractions: which events of a source count, whatever retracts what, at any depth, in any order.

The contract: a retracted event counts as if it had never been received, and that holds for
retractions too, so when a retraction is itself retracted the event it retracted counts again.
An event therefore counts iff no retraction of it counts. Over recorded time (the events'
`time`), what counts at a moment is decided among the events recorded by then.

A retraction retracts one event, so following "retracts" from any event is a single path; a
path can only come back on itself through retractions whose ids retract each other (hostile
input). Such a circle is decided as not counting: it can only affect the retractions on it and
those of them, never an event that is not a retraction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import datetime

from stroom_contract.keys import scoped_key

# The kind of a `retraction_key`.
RETRACTION_KIND = "retraction"

# An event as (source, id).
Ident = tuple[str, str]
# A stretch of recorded time an event counts in: from, and until (exclusive; None: still counts).
Period = tuple[datetime, datetime | None]


def retraction_key(source: str, retracted_id: str) -> str:
    """The key of a retraction whose chain ends at an event not received (yet): the chain's
    retractions wait under it until that event arrives and gives them its entity."""
    return scoped_key(RETRACTION_KIND, source, retracted_id)


@dataclass(frozen=True, slots=True)
class Retraction:
    source: str
    id: str
    time: datetime
    retracted_id: str

    @property
    def ident(self) -> Ident:
        return (self.source, self.id)

    @property
    def target(self) -> Ident:
        return (self.source, self.retracted_id)


class Retractions:
    """The retractions known, by what they retract. One (source, id) is one event: the first
    given of a repeated id is kept, as a ledger keeps the first delivery."""

    def __init__(self, retractions: Iterable[Retraction] = ()) -> None:
        self._by_id: dict[Ident, Retraction] = {}
        # A plain dict, not a defaultdict: `targets` are its keys, so a lookup may not add one.
        self._by_target: dict[Ident, list[Retraction]] = {}
        for retraction in retractions:
            self.add(retraction)

    def add(self, retraction: Retraction) -> None:
        if retraction.ident in self._by_id:
            return
        self._by_id[retraction.ident] = retraction
        self._by_target.setdefault(retraction.target, []).append(retraction)

    def __bool__(self) -> bool:
        return bool(self._by_id)

    def __contains__(self, ident: object) -> bool:
        return ident in self._by_id

    def of(self, ident: Ident) -> list[Retraction]:
        """The retractions that retract `ident` directly."""
        return self._by_target.get(ident, [])

    @property
    def targets(self) -> Set[Ident]:
        """Every event some retraction retracts directly: whether one does, asked of it in C where
        `of` is a call per event (a rebuild asks it of every event it folds)."""
        return self._by_target.keys()

    def tree(self, ident: Ident) -> list[Retraction]:
        """Every retraction whose chain leads to `ident`: its retractions, theirs, and so on."""
        found: list[Retraction] = []
        seen = {ident}
        pending = [ident]
        while pending:
            for retraction in self.of(pending.pop()):
                if retraction.ident not in seen:
                    seen.add(retraction.ident)
                    found.append(retraction)
                    pending.append(retraction.ident)
        return found

    def counts(self, ident: Ident, moment: datetime | None = None) -> bool:
        """Whether no retraction recorded by `moment` (None: any known) that counts retracts
        `ident`. The event's own recorded time is the caller's to compare."""
        if self._on_circle(ident, moment):
            return False
        # Below an event on no circle, the retractions form a tree: decided leaves first.
        decided: dict[Ident, bool] = {}
        stack: list[tuple[Ident, bool]] = [(ident, False)]
        while stack:
            node, expanded = stack.pop()
            below = [r for r in self.of(node) if moment is None or r.time <= moment]
            if expanded:
                decided[node] = not any(decided[r.ident] for r in below)
            else:
                stack.append((node, True))
                stack.extend((r.ident, False) for r in below)
        return decided[ident]

    def periods(self, ident: Ident, time: datetime) -> tuple[Period, ...]:
        """The stretches of recorded time in which the event `ident`, recorded at `time`, counts:
        from its own time on, but for where a retraction of it counts."""
        if self._on_circle(ident, None):
            return self._periods_by_moment(ident, time)
        # An event counts from its time on but where one of its retractions counts, and so does
        # each of those: stretches of time decided leaves first, linear in the size of the tree.
        decided: dict[Ident, list[Period]] = {}
        stack: list[tuple[Ident, datetime, bool]] = [(ident, time, False)]
        while stack:
            node, start, expanded = stack.pop()
            below = self.of(node)
            if expanded:
                decided[node] = _without(start, [p for r in below for p in decided[r.ident]])
            else:
                stack.append((node, start, True))
                stack.extend((r.ident, r.time, False) for r in below)
        return tuple(decided[ident])

    def _periods_by_moment(self, ident: Ident, time: datetime) -> tuple[Period, ...]:
        """`periods` for a retraction on a circle, which counts until the circle closes."""
        moments = sorted({time} | {r.time for r in self.tree(ident) if r.time > time})
        periods: list[Period] = []
        start: datetime | None = None
        for moment in moments:
            counting = self.counts(ident, moment)
            if counting and start is None:
                start = moment
            elif not counting and start is not None:
                periods.append((start, moment))
                start = None
        if start is not None:
            periods.append((start, None))
        return tuple(periods)

    def _on_circle(self, ident: Ident, moment: datetime | None) -> bool:
        seen = {ident}
        current = self._by_id.get(ident)
        while current is not None and (moment is None or current.time <= moment):
            if current.target == ident:
                return True
            if current.target in seen:
                return False
            seen.add(current.target)
            current = self._by_id.get(current.target)
        return False


def _without(start: datetime, gone: list[Period]) -> list[Period]:
    """[start, forever) but for the stretches `gone` (in any order, overlapping or not)."""
    left: list[Period] = []
    cursor: datetime | None = start
    for begin, end in sorted(gone, key=lambda period: period[0]):
        assert cursor is not None
        if end is not None and end <= cursor:
            continue
        if begin > cursor:
            left.append((cursor, begin))
        if end is None:
            cursor = None
            break
        cursor = max(cursor, end)
    if cursor is not None:
        left.append((cursor, None))
    return left


def counting_at(periods: tuple[Period, ...], moment: datetime) -> bool:
    return any(start <= moment and (end is None or moment < end) for start, end in periods)


def chain_keys(retracted: Mapping[Ident, str], known: Mapping[Ident, str]) -> dict[Ident, str]:
    """The entity key of each retraction of `retracted` ((source, id) → retracted id): that of
    the event at the end of its chain, through the other retractions given, found in `known`
    (the keys of events at hand, a stored retraction's being its chain's already), or the
    `retraction_key` of the first id on the chain that is in neither. A chain that comes back
    on itself gets the `retraction_key` of its smallest id, whichever of it is asked."""
    keys: dict[Ident, str] = {}
    for start in retracted:
        path: list[Ident] = []
        on_path: set[Ident] = set()
        current = start
        while current in retracted and current not in keys and current not in on_path:
            path.append(current)
            on_path.add(current)
            target = (current[0], retracted[current])
            if target in known:
                keys[current] = known[target]
                break
            current = target
        else:
            if current in keys:
                found = keys[current]
            elif current in on_path:
                circle = path[path.index(current) :]
                found = retraction_key(*min(circle))
            else:
                found = retraction_key(*current)
            for ident in path:
                keys[ident] = found
            continue
        for ident in path:
            keys[ident] = keys[path[-1]]
    return keys
