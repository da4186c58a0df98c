"""Webhook ``Id``s and ``NotificationId``s never repeat across resets and restarts, and are still reproducible
within a run for a seed (issue 12, item 6). Before the fix ``POST /_mock/reset`` or a restart sent the same Ids
again (seed 1's first hook always had the Id printed in docs/webhooks.md), and a receiver that de-duplicates on
``Id``, as the docs advise, dropped real hooks."""

from __future__ import annotations

from pathlib import Path

from mock_xtnd.settings import Settings
from tests.support.receiver import Receiver
from tests.support.xtnd import CONTROL
from tests.webhooks.conftest import Fake, fake_settings, running, subscription


def hooks(fake: Fake, receiver: Receiver, n: int = 5) -> list[tuple[str, str]]:
    start = len(receiver.received)
    for product in fake.products()[:n]:
        fake.stock(product, "1", 2)
    fake.settle()
    return [(r.json["Id"], r.json["Properties"]["NotificationId"]) for r in receiver.received[start:]]


def settings_for(receiver: Receiver, **extra: object) -> Settings:
    return fake_settings(subscription(receiver.url, triggers=["BalanceChanged"]), **extra)


def test_the_same_seed_gives_the_same_ids_in_a_fresh_run(receiver: Receiver) -> None:
    with running(settings_for(receiver)) as fake:
        first = hooks(fake, receiver)
    with running(settings_for(receiver)) as fake:
        assert hooks(fake, receiver) == first
    assert first[0] == ("05ac838cf84af12b763bbde75179a032", "47671783-0aa7-4915-98bf-caa43d362f61"), \
        "seed 1's first hook under the virtual clock, as docs/webhooks.md shows it"


def test_a_reset_never_sends_an_id_again(receiver: Receiver) -> None:
    with running(settings_for(receiver)) as fake:
        seen: set[str] = set()
        epochs = []
        for _ in range(3):
            epochs.append(fake.ok(fake.c.get("/_mock/webhooks"))["idEpoch"])
            ids = hooks(fake, receiver)
            assert len(ids) == 5
            for did, nid in ids:
                assert did not in seen and nid not in seen
                seen |= {did, nid}
            fake.ok(fake.c.post("/_mock/reset", headers=CONTROL))
        assert epochs == [1, 2, 3]


def test_a_restart_on_the_same_database_never_sends_an_id_again(receiver: Receiver, tmp_path: Path) -> None:
    db = str(tmp_path / "x.db")
    with running(settings_for(receiver, db=db)) as fake:
        first = hooks(fake, receiver)
        fake.ok(fake.c.post("/_mock/reset", headers=CONTROL))  # counters start again: only the epoch differs
        second = hooks(fake, receiver)
    with running(settings_for(receiver, db=db)) as fake:
        third = hooks(fake, receiver)
        assert fake.ok(fake.c.get("/_mock/webhooks"))["idEpoch"] == 3
    every = [i for pair in first + second + third for i in pair]
    assert len(set(every)) == len(every) == 30


def test_a_real_clock_fake_started_from_nothing_takes_a_new_epoch_unless_pinned(receiver: Receiver) -> None:
    """Without --db, a real-clock fake's epoch is its start time: a restart does not send last run's Ids.
    ``id_epoch`` pins it, to reproduce a run."""
    epochs = []
    for _ in range(2):
        with running(settings_for(receiver, clock="real")) as fake:
            epochs.append(fake.ok(fake.c.get("/_mock/webhooks"))["idEpoch"])
    assert epochs[0] > 1_700_000_000_000 and epochs[1] > epochs[0]
    with running(settings_for(receiver, clock="real", id_epoch=7)) as fake:
        assert fake.ok(fake.c.get("/_mock/webhooks"))["idEpoch"] == 7
