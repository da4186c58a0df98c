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
    assert [(c.client_id, c.client_secret) for c in s.clients] == [("demo", "demo-secret")]
    assert (s.rate_limits.standard, s.rate_limits.list, s.rate_limits.write) == (300, 60, 120)
    assert (s.paging.default_page_size, s.paging.max_page_size, s.paging.max_product_numbers) == (100, 1000, 200)
    assert s.paging.snapshot_ttl_seconds == 600
    assert (s.catalogue.products, s.catalogue.warehouses, s.catalogue.customers) == (500, 3, 100)
    assert (s.host, s.port, s.db, s.clock) == ("127.0.0.1", 8080, None, "real")
    assert s.delivery.retry_delays_seconds == [60.0, 240.0]


def test_a_yaml_file_sets_clients_limits_paging_and_sizes(tmp_path: Path) -> None:
    path = write(tmp_path, """
clients:
  - client_id: shop
    client_secret: s3cret
rate_limits: {standard: 10, list: 5, write: 2}
paging: {default_page_size: 20, max_page_size: 200}
catalogue: {products: 50, customers: 5}
token_lifetime_seconds: 120
""")
    s = load_settings(path, seed=9, port=None)
    assert s.clients[0].client_id == "shop"
    assert (s.rate_limits.standard, s.rate_limits.list, s.rate_limits.write) == (10, 5, 2)
    assert (s.paging.default_page_size, s.paging.max_page_size) == (20, 200)
    assert (s.catalogue.products, s.catalogue.warehouses, s.catalogue.customers) == (50, 3, 5)
    assert s.seed == 9, "command-line overrides win"
    assert s.port == 8080, "None overrides are ignored"
    assert load_settings(write(tmp_path, "")).seed == 1, "an empty file is all defaults"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("rate_limits: {list: zero}", "rate_limits.list"),
        ("rate_limits: {list: 0}", "rate_limits.list"),
        ("paging: {max_page_size: -1}", "paging.max_page_size"),
        ("catalogue: {prodcts: 5}", "catalogue.prodcts"),
        ("clients: [{client_id: x}]", "clients.0.client_secret"),
        ("port: 70000", "port"),
        ("clock: sundial", "clock"),
        ("no_such_setting: 1", "no_such_setting"),
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
