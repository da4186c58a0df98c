"""The README's configuration example is a valid config file, key for key (it is what users copy)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mock_xtnd.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_config_example_validates() -> None:
    text = README.read_text(encoding="utf-8")
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    data = yaml.safe_load(block)
    data.pop("db")  # a path the test must not create
    settings = Settings.model_validate(data)
    assert settings.company == "demo" and settings.users[0].username == "demo"
    assert settings.quirks.transient_errors == 0.01
    assert settings.api_faults and settings.api_faults[0]["kind"] == "transient"
