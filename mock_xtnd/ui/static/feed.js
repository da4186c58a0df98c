// A live tail of the journal: the last `window` records on mount, then whatever came after the newest one
// (GET /_mock/journal?since=<seq>&limit=...), at most `cap` records kept in the page. "Load older" reads the
// window before the oldest one kept.
import { useEffect, useRef, useState } from "preact/hooks";
import { get, qs } from "./lib.js";

const PAGE = 5000;

export function useJournalFeed({ kind = null, window = 5000, cap = 50000, every = 1000 } = {}) {
  const [state, setState] = useState({ items: [], lastSeq: 0, dropped: 0, oldestAsked: null, error: null, loading: true });
  const cursor = useRef(null);
  const busy = useRef(false);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    cursor.current = null;
    setState({ items: [], lastSeq: 0, dropped: 0, oldestAsked: null, error: null, loading: true });
    async function tick() {
      if (busy.current || document.hidden) return;
      busy.current = true;
      try {
        if (cursor.current === null) {
          const head = await get("/journal" + qs({ since: 2147483647, limit: 1 }));
          cursor.current = Math.max(0, head.lastSeq - window);
          if (alive.current) setState((s) => ({ ...s, oldestAsked: cursor.current }));
        }
        for (let round = 0; round < 4; round++) {
          const page = await get("/journal" + qs({ kind, since: cursor.current, limit: PAGE }));
          if (!alive.current) return;
          if (page.lastSeq < cursor.current) {  // the fake was reset: start again from its beginning
            cursor.current = 0;
            setState((s) => ({ ...s, items: [], oldestAsked: 0 }));
            continue;
          }
          const fresh = page.items;
          cursor.current = fresh.length ? fresh[fresh.length - 1].seq : page.lastSeq;
          setState((s) => {
            let items = fresh.length ? s.items.concat(fresh) : s.items;
            if (items.length > cap) items = items.slice(items.length - cap);
            return { ...s, items, lastSeq: page.lastSeq, dropped: page.dropped, error: null, loading: false };
          });
          if (fresh.length < PAGE) break;
        }
      } catch (e) {
        if (alive.current) setState((s) => ({ ...s, error: e, loading: false }));
      } finally {
        busy.current = false;
      }
    }
    tick();
    const t = setInterval(tick, every);
    return () => { alive.current = false; clearInterval(t); };
  }, [kind]);

  async function loadOlder() {
    const from = state.oldestAsked;
    if (!from) return;
    const since = Math.max(0, from - window);
    const page = await get("/journal" + qs({ kind, since, limit: PAGE }));
    const older = page.items.filter((r) => r.seq <= from);
    setState((s) => ({ ...s, items: older.concat(s.items.filter((r) => r.seq > from)), oldestAsked: since }));
  }
  return { ...state, loadOlder };
}
