"""A table of allowed status moves and the named moves that use it: the shape of every status machine here
(a message's in ``messaging.services.status``, an event delivery's in ``events.delivery``).

A table maps each status to those it may move to; a ``Move`` names one use of the table (the statuses it
starts from and where it goes). The writers apply moves as conditional updates (``status IN sources``), so a
race never moves a row the table forbids, and the table checks its moves when the module loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


class InvalidTransition(ValueError):
    """A move the table does not allow (a programming error, never a race: races are conditional writes)."""


@dataclass(frozen=True)
class Move:
    """One use of the table: rows in one of ``sources`` go to ``target``; any other status stays."""

    name: str
    sources: frozenset[str]
    target: str


class TransitionTable:
    def __init__(self, transitions: Mapping[str | None, frozenset[str]], *, subject: str,
                 new_label: str = "new") -> None:
        self.transitions = transitions
        self.subject = subject  # "a message", "a delivery": what the error messages speak of
        self.new_label = new_label  # how the errors name the None source (a row not stored yet)

    def allowed(self, source: str | None, target: str) -> bool:
        return target in self.transitions.get(source, frozenset())

    def check(self, source: str | None, target: str) -> None:
        """Raise ``InvalidTransition`` unless ``source`` → ``target`` is in the table."""
        if not self.allowed(source, target):
            raise InvalidTransition(
                f"{self.subject.capitalize()} cannot move from {source or self.new_label} to {target}.")

    def move(self, name: str, sources: Iterable[str], target: str) -> Move:
        """A named move, refused when the table lacks one of its edges."""
        sources = frozenset(sources)
        for source in sources:
            self.check(source, target)
        return Move(name, sources, target)

    def require_moves(self, moves: Iterable[Move], *, stored_only: bool = True) -> None:
        """Every edge of the table has a named move, and no move goes outside it (``stored_only``: the edges
        from None, storing a new row, are not moves)."""
        named = {(source, move.target) for move in moves for source in move.sources}
        edges = {(source, target) for source, targets in self.transitions.items()
                 if not (stored_only and source is None) for target in targets}
        if named != edges:
            raise InvalidTransition(f"The table and the moves of {self.subject} disagree: every edge needs a "
                                    "named move, and only those.")
