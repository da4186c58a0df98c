"""Every file in scenarios/ validates and follows the library's conventions."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.scenario import load_scenario, load_scenarios

from .support import LIBRARY, MODELINE, SCENARIOS


def test_the_library_is_there() -> None:
    names = {p.stem for p in LIBRARY}
    assert len(LIBRARY) >= 16
    for must in ("order-happy-path", "b2b-campaign-expires", "forged-signatures", "fallback-no-webhooks",
                 "large-catalogue-paging", "receiver-outage-catch-up", "credentials-change", "transient-400s"):
        assert must in names


def test_every_file_validates_and_names_are_unique() -> None:
    loaded, problems = load_scenarios([SCENARIOS])
    assert problems == []
    assert len(loaded) == len(LIBRARY)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_conventions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    scenario = load_scenario(path)
    assert text.splitlines()[0] == MODELINE, "first line: the schema modeline, so editors validate the file"
    assert "# Proves:" in text or "# NEGATIVE EXAMPLE" in text, "say in a comment what the scenario proves"
    assert scenario.name == path.stem, "the name is the file's name (reports are filed by name)"
    assert scenario.description
    if scenario.clock == "real":
        assert scenario.duration <= 30, "real-clock scenarios keep their timeline to about 30 s"
    if scenario.expect.must_fail:
        assert "NEGATIVE EXAMPLE" in text
    else:
        assert scenario.expect.must_pass == "all"
        assert scenario.expect.require, "name the rules the scenario exists to exercise (expect.require)"
