"""reference_sync: a small, correct webshop-side XTND integration, written the way we tell users to write theirs.

Start with docs/reference-sync.md. The modules, from the wire inwards: ``client`` (HTTP, errors by kind, rate
limits), ``app`` (webhook receiver, probe, shop endpoints), ``webhooks`` (a hook says what to fetch),
``coalescer`` and ``cursor`` (how little to fetch), ``store`` (SQLite: what must survive a crash), ``sync``
(the loops that tie them together).
"""
