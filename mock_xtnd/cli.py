"""The ``mock-xtnd`` command: serve the fake, and (from other modules) storms, checks and scenarios."""

from __future__ import annotations

import sys
from typing import Any

import click

from .settings import ConfigError, Settings, load_settings


def build_settings(config: str | None, **overrides: Any) -> Settings:
    try:
        return load_settings(config, **overrides)
    except ConfigError as e:
        click.echo(f"mock-xtnd: {e}", err=True)
        sys.exit(2)


def is_loopback(host: str) -> bool:
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warning(settings: Settings) -> str | None:
    """Said at start when the fake listens beyond this machine: /_mock can reset it, move stock, change the API's
    passwords and point webhooks anywhere."""
    if is_loopback(settings.host):
        return None
    guard = ("every /_mock call needs 'Authorization: Bearer <admin_token>'" if settings.admin_token else
             "anyone who can reach it can use the control surface: set admin_token in the config to require a token")
    return (f"mock-xtnd: warning: listening on {settings.host}, not only on this machine. /_mock resets the fake, "
            f"moves stock, changes the API's passwords and points webhooks anywhere; {guard}.")


def banner(settings: Settings, port: int) -> str:
    base = f"http://{settings.host}:{port}"
    users = ", ".join(f"{u.username} / {u.password}" for u in settings.users)
    lines = [
        f"mock-xtnd serving a fake XTND at {base}/RESTAPI/v1_0/{settings.company}  (seed {settings.seed}, "
        f"{settings.clock} clock" + (f", state in {settings.db}" if settings.db else ", in memory") + ")",
        f"  auth:        header ExtendBasicAuthorization: Basic base64(username:password)  (users: {users})",
        f"  API docs:    {base}/RESTAPI/swagger/ui/index  (OpenAPI: {base}/RESTAPI/swagger/docs/v1)",
        f"  dashboard:   {base}/_mock/ui  (controls: {base}/_mock/docs)",
        f"  catalogue:   {settings.catalogue.products} products, {settings.catalogue.warehouses} warehouses, "
        f"{settings.catalogue.customers} customers",
    ]
    q = settings.quirks
    on = [name for name, flag in (("transient 400s", q.transient_errors > 0), ("page past end 400", q.page_past_end_400),
                                  ("orders list needs modifiedDateFrom", q.orders_list_needs_modified_date),
                                  ("Products modifiedDateFrom misses new products", q.products_modified_misses_new))
          if flag]
    lines.append(f"  quirks:      {', '.join(on) if on else 'all off'}  (docs/wire.md; switch them in the config)")
    if settings.subscriptions:
        lines.append(f"  webhooks:    {len(settings.subscriptions)} subscription(s) from the config")
    if settings.simulate:
        lines.append("  back office: simulating (orders move, purchases arrive, stock and prices change)")
    return "\n".join(lines)


LAZY_COMMANDS = {
    "storm": ("mock_xtnd.simulate.storm_cli", "storm"),
    "check": ("contracts.harness_cli", "check"),
    "scenario": ("contracts.scenario_cli", "scenario"),
}


class LazyGroup(click.Group):
    """Commands that live with their features load only when invoked, so `serve` starts without importing the
    harness, httpx or rich."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            import importlib

            module, attr = LAZY_COMMANDS[cmd_name]
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mock-xtnd")
def main() -> None:
    """mock-xtnd: an offline, stateful fake of the XTND ERP/WMS API with signed webhooks."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8080; 0 picks a free one).")
@click.option("--seed", type=int, default=None, help="Seed for the catalogue, ids and every random choice.")
@click.option("--db", default=None, help="Keep all state (and the webhook outbox) in this SQLite file.")
@click.option("--config", "config", default=None, type=click.Path(dir_okay=False), help="YAML config file.")
@click.option("--clock", type=click.Choice(["real", "virtual"]), default=None, help="Time source (default real).")
@click.option("--simulate/--no-simulate", default=None, help="Run the back office: orders move on their own, etc.")
@click.option("--products", type=int, default=None, help="Catalogue size (overrides the config).")
def serve(host: str | None, port: int | None, seed: int | None, db: str | None, config: str | None,
          clock: str | None, simulate: bool | None, products: int | None) -> None:
    """Start the fake XTND on a real HTTP port."""
    import gc
    import socket

    import uvicorn

    from .app import create_app
    from .domain.errors import StoreUnavailable
    from .persistence import DatabaseError

    settings = build_settings(config, host=host, port=port, seed=seed, db=db, clock=clock, simulate=simulate)
    if products is not None:
        settings.catalogue.products = products
    warning = exposure_warning(settings)
    if warning:
        click.echo(warning, err=True)
    try:
        app = create_app(settings)
    except DatabaseError as e:
        click.echo(f"mock-xtnd: {e}", err=True)
        sys.exit(2)
    except StoreUnavailable as e:
        click.echo(f"mock-xtnd: cannot write database {settings.db}: {e.message}", err=True)
        sys.exit(2)
    # The seeded catalogue lives as long as the process: keep it out of the cyclic collector's full passes, whose
    # pauses (56-133 ms with 100,000s of records) would land on every request and delivery in flight.
    gc.collect()
    gc.freeze()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as e:
        click.echo(f"mock-xtnd: cannot listen on {settings.host}:{settings.port}: {e.strerror}", err=True)
        sys.exit(2)
    bound_port = sock.getsockname()[1]
    click.echo(banner(settings, bound_port), err=False)
    sys.stdout.flush()
    config_ = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config_)
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
