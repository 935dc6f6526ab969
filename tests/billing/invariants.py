"""The money invariants of issue 4, checked straight against the database."""

from __future__ import annotations

from sqlalchemy import func, select

from voxcall.store import schema as t
from voxcall.store.store import Store


def check_money(store: Store) -> None:
    with store.engine.connect() as conn:
        projects = conn.execute(select(t.projects)).all()
        for p in projects:
            ledger_sum = conn.execute(
                select(func.coalesce(func.sum(t.ledger.c.amount_milli), 0)).where(
                    t.ledger.c.project_id == p.id
                )
            ).scalar_one()
            debits = conn.execute(
                select(func.coalesce(func.sum(t.ledger.c.amount_milli), 0)).where(
                    t.ledger.c.project_id == p.id, t.ledger.c.kind == "debit"
                )
            ).scalar_one()
            prices = conn.execute(
                select(func.coalesce(func.sum(t.calls.c.price_milli), 0)).where(
                    t.calls.c.project_id == p.id
                )
            ).scalar_one()
            open_reservations = conn.execute(
                select(func.coalesce(func.sum(t.calls.c.reserved_milli), 0)).where(
                    t.calls.c.project_id == p.id, t.calls.c.phase != "final"
                )
            ).scalar_one()
            final_holding = conn.execute(
                select(func.count()).where(
                    t.calls.c.project_id == p.id,
                    t.calls.c.phase == "final",
                    t.calls.c.reserved_milli != 0,
                )
            ).scalar_one()
            assert p.balance_milli == ledger_sum, (p.name, p.balance_milli, ledger_sum)
            assert p.balance_milli >= 0, p
            assert p.reserved_milli == open_reservations, (p.name, p.reserved_milli)
            assert p.balance_milli - p.reserved_milli >= 0, p
            assert debits == -prices, (p.name, debits, prices)
            assert final_holding == 0
        debited_twice = conn.execute(
            select(t.ledger.c.call_id)
            .where(t.ledger.c.kind == "debit")
            .group_by(t.ledger.c.call_id)
            .having(func.count() > 1)
        ).all()
        assert debited_twice == []
        unbilled_debits = conn.execute(
            select(func.count())
            .select_from(t.ledger.join(t.calls, t.ledger.c.call_id == t.calls.c.id))
            .where(t.ledger.c.kind == "debit", t.calls.c.status != "NORMAL")
        ).scalar_one()
        assert unbilled_debits == 0
