"""A project's money as its owner sees it: the balance, what open calls hold, the ledger."""

from __future__ import annotations

from voxcall.calls.errors import NotFound
from voxcall.domain.money import LedgerEntry
from voxcall.domain.projects import Project
from voxcall.store.store import Store


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def balance(self, project: Project) -> Project:
        """The project as it is now, with its balance and reservations."""
        current = self.store.get_project(project.id)
        if current is None:
            raise NotFound("project: no longer exists")
        return current

    def top_up(self, project: Project, amount_milli: int, *, note: str) -> LedgerEntry:
        """Add a positive amount to the balance; the ledger entry says why (`note`)."""
        check_top_up(amount_milli)
        return self.store.credit(project.id, amount_milli, kind="topup", note=note[:200])

    def statement(self, project: Project) -> tuple[list[LedgerEntry], Project]:
        """The ledger, newest first, and the project's balance after its last entry."""
        entries = self.store.statement(project.id)
        return entries, self.balance(project)


def check_top_up(amount_milli: int) -> None:
    """A top-up adds money; taking some away is an adjustment."""
    if amount_milli <= 0:
        raise ValueError("amount: a top-up must be positive")
