"""The dashboard at ``/_mock/ui``: a page that reads and moves the fake through the control surface (docs/ui.md).

``dashboard.py`` is the runtime Part: the page's files and the few read endpoints the page needs beyond the rest of
``/_mock`` (compact counters, paged balances and orders, an order with its hooks and calls, a delivery's exact
wire, a storm's series). ``static/`` holds the page (plain ES modules, no build step) and ``static/vendor/`` the
pinned third-party files, fetched by ``scripts/fetch_ui_assets.py``.
"""
