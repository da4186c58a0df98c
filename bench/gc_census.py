"""``mock-xtnd`` with a garbage-collector census: logs every full collection (and any collection over 5 ms) and,
on SIGUSR1, prints to stderr one JSON line with those pauses, the number of objects the collector tracks and the
25 commonest types among them. Diagnosis only; the product code is unchanged.

    python bench/gc_census.py serve --port 19000 --config cfg.yaml   # then: kill -USR1 <pid>

How the figures in docs/benchmarks.md ("The fake keeps what is finished out of the collector's way") were taken:
the fake pinned to core 0 with one subscription to bench/receiver.py, three 2,000/s storms of 14 s (28,000 events
each) posted to /_mock/storm, a census after each.
"""

from __future__ import annotations

import collections
import gc
import json
import signal
import sys
import time
from typing import Any

pauses: list[tuple[float, int, float, int]] = []
_started: dict[str, float] = {}


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started["t"] = time.perf_counter()
        return
    ms = (time.perf_counter() - _started.get("t", time.perf_counter())) * 1000
    if info["generation"] == 2 or ms > 5:
        pauses.append((round(time.time(), 3), info["generation"], round(ms, 1), info["collected"]))


def _census(*_: object) -> None:
    counts = collections.Counter(type(o).__name__ for o in gc.get_objects())
    sys.stderr.write(json.dumps({"pauses": pauses, "tracked": sum(counts.values()), "frozen": gc.get_freeze_count(),
                                 "top": counts.most_common(25)}) + "\n")
    sys.stderr.flush()


def main() -> None:
    gc.callbacks.append(_callback)
    signal.signal(signal.SIGUSR1, _census)
    from mock_xtnd.cli import main as cli

    sys.argv = ["mock-xtnd", *sys.argv[1:]]
    cli()


if __name__ == "__main__":
    main()
