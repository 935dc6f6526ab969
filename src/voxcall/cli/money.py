"""`voxcall project topup | statement`: a project's balance and ledger."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from voxcall.api.schemas import balance_json
from voxcall.billing.money import toman
from voxcall.cli.common import DataOption, JsonOption, fail, open_admin, parse_amount
from voxcall.domain.money import LedgerEntry


def topup(
    name: str,
    amount: Annotated[str, typer.Argument(help="Toman to add.")],
    data: DataOption = None,
    note: Annotated[str, typer.Option(help="Why; kept in the ledger.")] = "top-up",
    json_out: JsonOption = False,
) -> None:
    """Add money to a project's balance (a ledger entry)."""
    milli = parse_amount("AMOUNT", amount)
    if milli == 0:
        fail("AMOUNT: must be positive")
    admin = open_admin(data)
    entry = admin.accounts.top_up(admin.projects.named(name), milli, note=note)
    if json_out:
        typer.echo(json.dumps(_ledger_json(entry)))
    else:
        typer.echo(f"balance of {name}: {toman(entry.balance_after_milli):g} Toman")


def _ledger_json(entry: LedgerEntry) -> dict[str, object]:
    return {
        "transactionId": entry.id,
        "kind": entry.kind,
        "amount": toman(entry.amount_milli),
        "balance": toman(entry.balance_after_milli),
        "callId": entry.call_id,
        "note": entry.note,
        "createdAt": round(entry.created_at, 3),
    }


def statement(name: str, data: DataOption = None, json_out: JsonOption = False) -> None:
    """The project's ledger, newest first, with the running balance."""
    admin = open_admin(data)
    entries, current = admin.accounts.statement(admin.projects.named(name))
    if json_out:
        # the balance as GET /account/balance answers it, then the entries
        body = {**balance_json(current), "entries": [_ledger_json(e) for e in entries]}
        typer.echo(json.dumps(body))
        return
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.created_at))
        typer.echo(
            f"{when}\t{e.kind}\t{toman(e.amount_milli):+g}\t"
            f"balance={toman(e.balance_after_milli):g}\t{e.call_id or '-'}\t{e.note}"
        )
