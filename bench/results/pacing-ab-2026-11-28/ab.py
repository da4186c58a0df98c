"""A/B: interleaved latency_under_storm runs (1 rep each) per variant; variants are env dicts."""
import sys, json, os, time
sys.path.insert(0, "/work/main/bench")
import _harness as h
import bench_webhooks as bw
variants = json.loads(sys.argv[1])   # {"name": {"ENV": "v"}, ...}
rounds = int(sys.argv[2])
h.pin_self(h.LOAD_CORE)
port = h.free_port()
rec = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "receiver.py"), "--port", str(port)], h.LOAD_CORE), "receiver")
def steal():
    return int(open("/proc/stat").readline().split()[8])
res = {k: [] for k in variants}
try:
    h.wait_ready(port, rec)
    for r in range(rounds):
        names = list(variants) if r % 2 == 0 else list(reversed(variants))
        for name in names:
            base = {k: v for k, v in os.environ.items() if not k.startswith("XP_")}
            os.environ.clear(); os.environ.update(base); os.environ.update(variants[name])
            h.MOCK_XTND = variants[name].get('XP_BIN', '/work/main/.venv/bin/mock-xtnd')
            s0 = steal(); t0 = time.time()
            out = bw.latency_under_storm(port, 1, 10, 2000.0)
            st = (steal() - s0) / (time.time() - t0)
            res[name].append((out["p99_factor"], out["idle_p99_ms"], out["storm_p99_ms"], round(st, 1)))
            print(name, res[name][-1], flush=True)
finally:
    rec.stop()
for k, v in res.items():
    fs = sorted(x[0] for x in v)
    print(k, "factors", fs, "median", fs[len(fs)//2], "idle", [x[1] for x in v], "storm", [x[2] for x in v], "steal/s", [x[3] for x in v])
