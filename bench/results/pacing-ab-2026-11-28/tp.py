import sys, json, os, time
sys.path.insert(0, "/work/main/bench")
import _harness as h
import bench_webhooks as bw
variants = json.loads(sys.argv[1]); rounds = int(sys.argv[2])
h.pin_self(h.LOAD_CORE)
port = h.free_port()
rec = h.Proc(h.pinned([h.PYTHON, str(h.BENCH_DIR / "receiver.py"), "--port", str(port)], h.LOAD_CORE), "receiver")
res = {}
try:
    h.wait_ready(port, rec)
    for r in range(rounds):
        for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
            h.MOCK_XTND = variants[name].get('XP_BIN', '/work/main/.venv/bin/mock-xtnd')
            for c in (8, 64):
                out = bw.fake_throughput(port, 20000, c)
                res.setdefault((name, c), []).append((out["rate"], out["sender_cpu_us_per_delivery"]))
                print(name, c, out["rate"], out["sender_cpu_us_per_delivery"], flush=True)
finally:
    rec.stop()
for k, v in res.items():
    print(k, "rates", sorted(x[0] for x in v), "cpu us", sorted(x[1] for x in v))
