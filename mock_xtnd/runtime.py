"""The composition root's state: one Runtime per app, built by create_app(settings). No module-level singletons."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Protocol

from .api.ratelimit import RateLimiter
from .domain.backend import Backend
from .domain.clock import RealClock, TenantDates, VirtualClock, make_clock
from .domain.ids import Ids
from .domain.paging import Pager
from .domain.scheduler import Scheduler
from .domain.seed import SeedSizes, generate
from .journal import Journal
from .pacing import Pace
from .persistence import SqliteStore, state_records
from .settings import Settings
from .timeloop import TimeLoop

if TYPE_CHECKING:
    from .faults.api import ApiFaults
    from .webhooks.service import Webhooks


class Part(Protocol):
    """An optional piece wired into the runtime by create_app: webhooks, API faults, back office, storms."""

    def admin_routers(self) -> list[Any]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def reset(self) -> list[tuple[str, str, Any]]:
        """Back to the seeded start. A part with records of its own to persist at a reset also has
        ``reset_records()``, which the runtime writes with the fresh state before anything in memory changes."""
        ...


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # what a reset goes back to: /_mock/quirks changes settings.quirks in place, /_mock/users only self.users
        self.config_quirks = settings.quirks.model_copy()
        self.clock: RealClock | VirtualClock = make_clock(settings.clock, settings.clock_start)
        self.start_ms = self.clock.now_ms()
        self.sizes = SeedSizes(settings.catalogue.products, settings.catalogue.warehouses, settings.catalogue.customers)
        self.ids = Ids(settings.seed)
        self.dates = TenantDates(settings.timezone)
        self.backend = Backend(self.clock, self.ids, default_warehouse=settings.default_warehouse,
                               allow_oversell=settings.allow_oversell,
                               duplicate_external_order=settings.duplicate_external_order, date_text=self.dates.text,
                               adjustments_max=settings.retention.balance_adjustments)
        self.journal = Journal(settings.journal_max_records, settings.journal_max_bytes)
        self.pager = Pager(settings.paging.snapshot_ttl_seconds * 1000)
        rl = settings.rate_limits
        self.limiter = RateLimiter(self.clock, rl.default, rl.families, rl.window_seconds)
        # username -> password; replaced as a whole (never mutated) so the pipeline can tell it changed
        self.users: dict[str, str] = {u.username: u.password for u in settings.users}
        self.quirk_dice: random.Random | None = None
        self.reset_quirk_dice()
        self.store: SqliteStore | None = SqliteStore(settings.db, settings.db_busy_timeout_ms) if settings.db else None
        self.loaded_records: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        self.webhooks: Webhooks | None = None
        self.faults: ApiFaults | None = None
        self.parts: list[Part] = []
        self.scheduler = Scheduler()
        self.timeloop = TimeLoop(self)
        slice_ms = settings.background_slice_ms
        self.pace = Pace(None if slice_ms is None else slice_ms / 1000)  # background work vs the API (pacing.py)
        self.errors: list[str] = []
        self._load_or_seed()

    # ------------------------------------------------------------------ state
    def _load_or_seed(self) -> None:
        if self.store is not None and not self.store.is_empty():
            state, meta, others = self.store.load()
            self.backend.state = state
            self.ids.counters = dict(meta.get("counters", {}))
            # a new epoch for every start: webhook Ids never repeat those of an earlier run (domain/ids.py)
            self.ids.epoch = int(meta.get("epoch", 0)) + 1
            self.start_ms = int(meta.get("start", self.start_ms))
            if isinstance(self.clock, VirtualClock) and "now" in meta:
                self.clock.set_ms(max(self.clock.now_ms(), int(meta["now"])))
            self.loaded_records = others
            self.store.write([], self.meta())
        else:
            # a fresh start: the virtual clock's runs are reproducible (epoch 1); a real-clock fake started again
            # from nothing must not send the Ids it sent last time, so its epoch is its start time (domain/ids.py)
            self.ids.epoch = self.settings.id_epoch or (1 if isinstance(self.clock, VirtualClock) else self.start_ms)
            self.backend.state = generate(self.settings.seed, self.sizes, self.start_ms)
            if self.store is not None:
                self.store.replace_all(state_records(self.backend.state), self.meta())
        self.backend.store = self.store

    def log_error(self, message: str) -> None:
        """Background failures (timers, deliveries) are kept for /_mock/state-style inspection and printed."""
        self.errors.append(message)
        del self.errors[:-100]
        print(f"mock-xtnd: {message}", flush=True)

    def meta(self) -> dict[str, Any]:
        return {**self.backend.meta(), "seed": self.ids.seed, "epoch": self.ids.epoch, "start": self.start_ms}

    def reset(self) -> None:
        """Back to the seeded start: same catalogue, numbering, clock start (virtual) and the config's
        subscriptions; a new epoch, so webhook Ids do not repeat. Under --db the fresh state is written first: a
        refused write (the database locked) raises StoreUnavailable and changes nothing."""
        state = generate(self.settings.seed, self.sizes, self.start_ms)
        epoch = self.ids.epoch + 1
        if self.store is not None:
            extra = [record for part in self.parts for record in getattr(part, "reset_records", list)()]
            now = self.start_ms if isinstance(self.clock, VirtualClock) else self.clock.now_ms()
            meta = {"counters": {}, "now": now, "seed": self.ids.seed, "epoch": epoch, "start": self.start_ms}
            self.store.replace_all(list(state_records(state)) + extra, meta)
        if isinstance(self.clock, VirtualClock):
            self.clock.rewind(self.start_ms)
        self.ids.counters.clear()
        self.ids.epoch = epoch
        self.scheduler.clear()
        self.backend.state = state
        self.journal.clear()
        self.pager.clear()
        self.limiter.clear()
        self.users = {u.username: u.password for u in self.settings.users}
        self.settings.quirks = self.config_quirks.model_copy()
        self.reset_quirk_dice()
        for part in self.parts:
            part.reset()

    # ------------------------------------------------------------------ parts
    def add_part(self, part: Part) -> None:
        self.parts.append(part)

    async def start(self) -> None:
        for part in self.parts:
            await part.start()
        self.timeloop.start()

    async def stop(self) -> None:
        await self.timeloop.stop()
        for part in reversed(self.parts):
            await part.stop()

    def admin_routers(self) -> list[Any]:
        """Routers contributed by the parts (webhooks, faults, back office, storms) to the /_mock surface."""
        return [r for part in self.parts for r in part.admin_routers()]

    # ------------------------------------------------------------------ quirks
    def reset_quirk_dice(self) -> None:
        """The transient-failure dice (one stream per run: one seed reproduces which calls meet one); None when
        the quirk is off, so the request path skips it."""
        from .api.pipeline import seeded_dice

        self.quirk_dice = seeded_dice(self.settings.seed) if self.settings.quirks.transient_errors > 0 else None
