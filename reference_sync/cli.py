"""``reference-sync run``: the webshop-side XTND integration as a service.

Configured by the same environment variables the contract harness sets (``XTND_API_URL``, ``XTND_USERNAME``,
``XTND_PASSWORD``, ``XTND_WEBHOOK_SECRET``, ``XTND_WEBHOOK_PORT``, ``XTND_WEBHOOKS=off``), or by flags.
"""

from __future__ import annotations

import gc
import logging
import os
import tempfile

import click
import uvicorn

from .app import build_service, create_app
from .config import SyncConfig

log = logging.getLogger("reference_sync")


@click.group()
def main() -> None:
    """A small, correct webshop-side XTND integration."""


@main.command()
@click.option(
    "--api-url",
    envvar="XTND_API_URL",
    required=True,
    help="The company's API root: https://host/RESTAPI/v1_0/<company> (no trailing slash).",
)
@click.option("--username", envvar="XTND_USERNAME", required=True)
@click.option("--password", envvar="XTND_PASSWORD", required=True)
@click.option("--webhook-secret", envvar="XTND_WEBHOOK_SECRET", help="Secret of the hook subscription.")
@click.option("--port", envvar="XTND_WEBHOOK_PORT", type=int, default=8080, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--webhooks/--no-webhooks",
    envvar="XTND_WEBHOOKS",
    default=True,
    show_default=True,
    help="Off (XTND_WEBHOOKS=off): the documented fallback, modifiedDateFrom polling.",
)
@click.option("--db", "db_path", envvar="XTND_SYNC_DB", help="SQLite file. Default: a new temporary file.")
@click.option(
    "--balance-quiet",
    type=float,
    default=0.2,
    show_default=True,
    help="Read balances once no hook came for this many seconds.",
)
@click.option(
    "--balance-max-wait",
    type=float,
    default=2.5,
    show_default=True,
    help="... or at the latest this many seconds after the first pending hook (a storm).",
)
@click.option(
    "--reconcile-interval",
    envvar="XTND_SYNC_RECONCILE_INTERVAL",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds, with webhooks.",
)
@click.option(
    "--poll-interval",
    envvar="XTND_SYNC_POLL_INTERVAL",
    type=float,
    default=5.0,
    show_default=True,
    help="Seconds, without webhooks.",
)
@click.option(
    "--customer-number", envvar="XTND_SHOP_CUSTOMER", help="Order as this customer (default: first listed)."
)
@click.option("--delivery-method", help="deliveryMethod on orders (default: XTND's).")
@click.option("--order-prefix", help="orderNumberExternal prefix (default: WEB-<random per database>).")
@click.option("--log-level", default="INFO", show_default=True)
def run(db_path: str | None, log_level: str, **options: object) -> None:
    """Serve the webhook receiver, probe and shop endpoints, and run the sync worker."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise, not news
    if db_path is None:
        fd, db_path = tempfile.mkstemp(prefix="reference-sync-", suffix=".db")
        os.close(fd)
    api_url = str(options.pop("api_url")).rstrip("/")
    config = SyncConfig(api_url=api_url, db_path=db_path, **options)  # type: ignore[arg-type]
    if config.webhooks and not config.webhook_secret:
        raise click.UsageError("webhooks are on but no XTND_WEBHOOK_SECRET / --webhook-secret is set")
    log.info(
        "reference-sync on %s:%d, api %s, webhooks %s, db %s",
        config.host,
        config.port,
        config.api_url,
        "on" if config.webhooks else "off",
        config.db_path,
    )
    app = create_app(build_service(config))
    server = uvicorn.Server(
        uvicorn.Config(
            app, host=config.host, port=config.port, log_level="warning", lifespan="on", access_log=False
        )
    )
    # Everything built so far lives as long as the process: keep it out of the cyclic collector's full passes,
    # whose pauses (25-30 ms each, ~10 per 20,000-hook storm) land on every hook in flight (bench: ack p99).
    gc.collect()
    gc.freeze()
    server.run()  # uvicorn's own loop setup: uvloop and httptools when installed


if __name__ == "__main__":
    main()
