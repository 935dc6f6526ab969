"""What voxcall is about, as plain values: every layer imports these, they import no layer.

One module per aggregate: projects, dialers, voices, calls (with their attempts), money,
webhooks and idempotency. No I/O here. The only arithmetic is what a value means by itself
and every layer must read the same way (a tariff's price, a dialer's calls-per-second
window); a rule that decides what happens to a call belongs to `calls/` or `billing/`.
"""
