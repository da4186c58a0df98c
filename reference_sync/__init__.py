"""reference_sync: a small, correct webshop-side XTND integration, written the way we tell users to write theirs.

It speaks only the wire (XTND's REST API and signed webhooks) and imports nothing from the fake.
Start with docs/reference-sync.md. The modules, from the wire inwards: ``client`` (HTTP, header auth, errors by
kind, rate limits per endpoint family, both paging schemes), ``app`` (webhook receiver, probe, shop endpoints),
``signing`` (the webhook signature), ``webhooks`` (a hook says what to read), ``coalescer`` and ``cursor`` (how
little to read), ``store`` (SQLite: what must survive a crash), ``shop`` (the order body), ``sync`` (the loops
that tie them together).
"""
