"""What voxcall is about, as plain values: every layer imports these, they import no layer.

One module per aggregate: projects, dialers, voices, calls (with their attempts), money,
webhooks and idempotency. No I/O and no policy lives here; a rule that decides something
belongs to `calls/` or `billing/`.
"""
