"""The sync's settings, in one place. The CLI fills them from the harness's ``XTND_*`` variables and flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SyncConfig:
    api_url: str  # the company's API root: https://host/RESTAPI/v1_0/<company>, no trailing slash
    username: str
    password: str
    webhook_secret: str | None  # None: every webhook is refused (nothing can be verified)
    db_path: str
    host: str = "127.0.0.1"
    port: int = 8080
    webhooks: bool = True  # False: the documented fallback, modifiedDateFrom polling

    # Balances (see coalescer.py). A read happens once no hook came for `balance_quiet` seconds, or at the latest
    # `balance_max_wait` seconds after the first pending hook: the storm lag, traded against calls per event.
    balance_quiet: float = 0.2
    balance_max_wait: float = 2.5
    single_reads_max: int = 5  # up to this many pending items: one GET each; more: one modifiedDateFrom pass
    # modifiedDateFrom is sent this far before the cursor: covers a change stamped before a read but committed
    # after it. Rows listed again cost nothing but their bytes.
    cursor_overlap: float = 2.0
    # With webhooks: how often modifiedDateFrom passes heal hooks that never arrived (availability, orders).
    reconcile_interval: float = 60.0
    # Without webhooks: how often availability and orders are listed.
    poll_interval: float = 5.0
    page_count: int = 100  # scheme A page size (CustomerOrders lists); XTND's default

    # How the shop places orders.
    customer_number: str | None = None  # None: the first customer XTND lists, remembered in the database
    delivery_method: str | None = None  # None: XTND's default for the customer
    order_prefix: str | None = None  # orderNumberExternal prefix; None: "WEB-<random per database>"

    # Errors by kind (the client's own retries are in client.RetryPolicy).
    # A read still failing (Throttled, Transient, Internal) after the client's retries is tried again after this.
    retry_later: float = 30.0
    # An order POST that got no answer is looked up, then sent again, after a back-off that doubles from
    # `resend_backoff` seconds; after `resend_attempts` unanswered tries it is logged as an error (alert) and
    # tried again every `internal_cooldown` seconds.
    resend_backoff: float = 1.0
    resend_attempts: int = 5
    internal_cooldown: float = 90.0
    request_timeout: float = 10.0

    # Webhook Ids kept for de-duplication, in seconds (XTND's retries end 5 minutes after the first attempt).
    delivery_retention: float = 86_400.0
