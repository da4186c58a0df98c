"""Settings: defaults as the contract says, YAML files with snake_case keys, and errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_xtnd.settings import ConfigError, Settings, load_settings


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "xtnd.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_match_the_contract() -> None:
    s = Settings()
    assert (s.company, s.timezone) == ("demo", "Europe/Stockholm")
    assert [(u.username, u.password) for u in s.users] == [("demo", "demo-secret")]
    assert (s.rate_limits.default, s.rate_limits.window_seconds, s.rate_limits.families) == (300, 60, {})
    assert s.rate_limits.limit_of("ProductAvailability") == 300
    p = s.paging
    assert (p.page_size, p.default_page_count, p.max_page_count, p.stable_snapshots) == (100, 100, 1000, False)
    assert p.snapshot_ttl_seconds == 600
    q = s.quirks  # production quirks: on by default
    assert (q.transient_errors, q.page_past_end_400, q.orders_list_needs_modified_date,
            q.products_modified_misses_new) == (0.01, True, True, True)
    assert (s.duplicate_external_order, s.max_price_products, s.allow_oversell) == ("refuse", 10, True)
    assert (s.catalogue.products, s.catalogue.warehouses, s.catalogue.customers) == (500, 3, 100)
    assert (s.host, s.port, s.db, s.clock) == ("127.0.0.1", 8080, None, "real")
    assert s.delivery.retry_delays_seconds == [60.0, 240.0]


def test_a_yaml_file_sets_users_limits_paging_quirks_and_sizes(tmp_path: Path) -> None:
    path = write(tmp_path, """
company: acme
users:
  - username: shop
    password: s3cret
timezone: Europe/Helsinki
rate_limits: {default: 10, window_seconds: 30, families: {ProductAvailability: 600}}
paging: {page_size: 20, default_page_count: 50, max_page_count: 200, stable_snapshots: true}
quirks: {transient_errors: 0, page_past_end_400: false}
duplicate_external_order: accept
max_price_products: 5
catalogue: {products: 50, customers: 5}
""")
    s = load_settings(path, seed=9, port=None)
    assert (s.company, s.timezone) == ("acme", "Europe/Helsinki")
    assert [(u.username, u.password) for u in s.users] == [("shop", "s3cret")]
    assert (s.rate_limits.default, s.rate_limits.window_seconds) == (10, 30)
    assert (s.rate_limits.limit_of("ProductAvailability"), s.rate_limits.limit_of("Customers")) == (600, 10)
    assert (s.paging.page_size, s.paging.default_page_count, s.paging.max_page_count) == (20, 50, 200)
    assert s.paging.stable_snapshots is True
    assert (s.quirks.transient_errors, s.quirks.page_past_end_400) == (0, False)
    assert s.quirks.orders_list_needs_modified_date is True, "quirks left out keep their default"
    assert (s.duplicate_external_order, s.max_price_products) == ("accept", 5)
    assert (s.catalogue.products, s.catalogue.warehouses, s.catalogue.customers) == (50, 3, 5)
    assert s.seed == 9, "command-line overrides win"
    assert s.port == 8080, "None overrides are ignored"
    assert load_settings(write(tmp_path, "")).seed == 1, "an empty file is all defaults"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("rate_limits: {default: zero}", "rate_limits.default"),
        ("rate_limits: {default: 0}", "rate_limits.default"),
        ("rate_limits: {families: {Products: 0}}", "rate_limits.families"),
        ("paging: {max_page_count: -1}", "paging.max_page_count"),
        ("paging: {page_size: 0}", "paging.page_size"),
        ("quirks: {transient_errors: 2}", "quirks.transient_errors"),
        ("quirks: {no_such_quirk: true}", "quirks.no_such_quirk"),
        ("catalogue: {prodcts: 5}", "catalogue.prodcts"),
        ("users: [{username: x}]", "users.0.password"),
        ("users: [{username: 'a:b', password: p}]", "users.0.username"),
        ("users: []", "users"),
        ("users: [{username: a, password: p}, {username: a, password: q}]", "users"),
        ("company: 'a b'", "company"),
        ("timezone: Mars/Olympus", "timezone"),
        ("duplicate_external_order: maybe", "duplicate_external_order"),
        ("max_price_products: 0", "max_price_products"),
        ("port: 70000", "port"),
        ("clock: sundial", "clock"),
        ("no_such_setting: 1", "no_such_setting"),
        ("clients: [{client_id: x, client_secret: y}]", "clients"),  # the old dialect's setting is gone
        ("subscriptions: [{name: a, callback_url: 'ftp://x', secret: s, triggers: [OrderPicked]}]",
         "subscriptions.0.callback_url"),
    ],
)
def test_bad_config_names_the_field(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_settings(path)
    assert named in str(e.value)
    assert str(path) in str(e.value)


def test_unreadable_or_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "rate_limits: [unclosed"))
    with pytest.raises(ConfigError, match="mapping"):
        load_settings(write(tmp_path, "- a list\n- not a mapping\n"))
