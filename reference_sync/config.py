"""The sync's settings, in one place. The CLI fills them from the harness's ``XTND_*`` variables and flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SyncConfig:
    api_url: str  # ends in /api; the token URL is <api_url>/token
    client_id: str
    client_secret: str
    webhook_secret: str | None  # None: every webhook is refused (nothing can be verified)
    db_path: str
    host: str = "127.0.0.1"
    port: int = 8080
    webhooks: bool = True  # False: the documented fallback, changedSince polling

    # Balances: the coalescing window (seconds). Longer means fewer calls per event and more lag.
    balance_window: float = 0.3
    # With webhooks: how often changedSince reconciliation heals missed hooks (availability, orders, master data).
    reconcile_interval: float = 60.0
    # Without webhooks: how often availability and orders are listed (master data: reconcile_interval).
    poll_interval: float = 5.0
    page_size: int = 1000  # XTND's maximum; fewer pages means fewer calls and fewer multi-page passes

    # Master data, each optional.
    sync_products: bool = False
    sync_customers: bool = False
    sync_prices: bool = False  # ProductPrices for the shop's customer (order prices are always fetched fresh)

    # How the shop places orders.
    customer_number: str | None = None  # None: the first customer XTND lists, remembered in the database
    delivery_method: str | None = None  # None: XTND's default for the customer
    currency: str = "SEK"  # when XTND's price row names none
    order_prefix: str | None = None  # ExternalOrderNumber prefix; None: "WEB-<random per database>"

    # Errors by kind.
    # A fetch still Throttled/Internal after the client's own retries is tried again after this many seconds.
    retry_later: float = 30.0
    # Anything that still failed with Internal errors after the client's retries (parked and logged as an error)
    # is tried again after this many seconds; a write is resent identically. Longer than a minute on purpose: the
    # next try is a new attempt, not a sixth retry in a row.
    internal_cooldown: float = 90.0
    request_timeout: float = 10.0

    # Webhook Ids kept for de-duplication, in seconds (XTND's retries end 5 minutes after the first attempt).
    delivery_retention: float = 86_400.0
