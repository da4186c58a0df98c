// Journal: every API call and delivery attempt, live, filterable, in a virtualised list (a storm's 20,000 hooks
// are 20,000 records: only the rows in view are in the page).
import { useMemo, useState } from "preact/hooks";
import { html, fmt, shortTime, statusClass, Json, VirtualList, ErrorLine } from "../lib.js";
import { useJournalFeed } from "../feed.js";

function label(r) {
  return [r.fault && `fault ${r.fault}`, r.quirk && `quirk ${r.quirk}`, r.forged && "forged"].filter(Boolean).join(", ");
}
function target(r) {
  if (r.kind === "delivery") return `hook ${(r.notifications || []).map((n) => n.Action).join(", ")} -> ${r.subscription} (attempt ${r.attempt}, ${r.outcome})`;
  const q = Object.entries(r.query || {}).flatMap(([k, vs]) => vs.map((v) => `${k}=${v}`)).join("&");
  return r.path + (q ? "?" + q : "");
}

const COLUMNS = [
  { label: "seq", width: "70px", render: (r) => "#" + r.seq },
  { label: "time", width: "100px", render: (r) => shortTime(r.time) },
  { label: "method", width: "64px", render: (r) => r.kind === "api" ? r.method : "POST" },
  { label: "path / hook", width: "minmax(300px, 4fr)", render: (r) => html`<span class="mono" title=${target(r)}>${target(r)}</span>` },
  { label: "status", width: "64px", render: (r) => html`<span class=${statusClass(r.status)}>${r.status ?? r.error ?? "-"}</span>` },
  { label: "ms", width: "70px", render: (r) => fmt(r.latencyMs, 1) },
  { label: "user", width: "90px", render: (r) => r.kind === "api" ? (r.user || "-") : r.subscription },
  { label: "fault / quirk", width: "minmax(120px, 1fr)", render: (r) => html`<span class="warn">${label(r)}</span>` },
];

const HAY = new WeakMap();  // each record's searchable text, built once
function hay(r) {
  let text = HAY.get(r);
  if (text === undefined) {
    const details = r.kind === "delivery" ? JSON.stringify(r.notifications) : (r.productNumbers || []).join(" ");
    text = [target(r), details, r.operation, r.message, r.errorKind, label(r)].filter(Boolean).join(" ").toLowerCase();
    HAY.set(r, text);
  }
  return text;
}

function matches(r, f) {
  if (f.kind && r.kind !== f.kind) return false;
  if (f.method && (r.kind !== "api" || r.method !== f.method)) return false;
  if (f.status === "ok" && !(r.status >= 200 && r.status < 300)) return false;
  if (f.status === "error" && r.status >= 200 && r.status < 300) return false;
  if (f.status && /^\d/.test(f.status) && String(r.status || 0)[0] !== f.status[0]) return false;
  if (f.labelled && !(r.fault || r.quirk || r.forged)) return false;
  if (f.text) {
    if (!hay(r).includes(f.text.toLowerCase())) return false;
  }
  return true;
}

export function Journal({ arg }) {
  const feed = useJournalFeed({ window: 5000, cap: 50000 });
  const [f, setF] = useState({ kind: "", method: "", status: "", text: "", labelled: false });
  const [follow, setFollow] = useState(true);
  const [picked, setPicked] = useState(null);
  const shown = useMemo(() => feed.items.filter((r) => matches(r, f)), [feed.items, f]);
  const wanted = arg ? Number(arg) : null;
  const selected = picked || (wanted ? feed.items.find((r) => r.seq === wanted) : null);
  const set = (k) => (e) => setF({ ...f, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  return html`
    <h1>Journal</h1>
    <div class="toolbar">
      <label class="field">kind<select name="kind" value=${f.kind} onChange=${set("kind")}><option value="">all</option><option value="api">API calls</option><option value="delivery">hook attempts</option></select></label>
      <label class="field">method<select name="method" value=${f.method} onChange=${set("method")}>${["", "GET", "POST", "PUT", "DELETE"].map((m) => html`<option value=${m}>${m || "any"}</option>`)}</select></label>
      <label class="field">status<select name="status" value=${f.status} onChange=${set("status")}>
        <option value="">any</option><option value="ok">2xx</option><option value="error">not 2xx</option><option value="4xx">4xx</option><option value="5xx">5xx</option><option value="0">no answer</option></select></label>
      <label class="field">search path, product, operation, message<input type="search" name="text" value=${f.text} onInput=${set("text")} placeholder="e.g. ProductAvailability or 100003" /></label>
      <label class="check"><input type="checkbox" name="labelled" checked=${f.labelled} onChange=${set("labelled")} /> faults and quirks only</label>
      <label class="check"><input type="checkbox" name="follow" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> follow</label>
      <button onClick=${() => feed.loadOlder()} disabled=${!feed.oldestAsked}>Load older</button>
    </div>
    <p class="muted" data-testid="journal-count">${fmt(shown.length)} shown of ${fmt(feed.items.length)} loaded (records #${fmt(feed.oldestAsked + 1)}-#${fmt(feed.lastSeq)}${feed.dropped ? `; the fake dropped the oldest ${fmt(feed.dropped)}` : ""}). Filters apply to what is loaded; GET /_mock/journal has the rest.</p>
    <${ErrorLine} error=${feed.error} />
    <${VirtualList} items=${shown} columns=${COLUMNS} onPick=${setPicked} keyOf=${(r) => r.seq} selectedKey=${selected && selected.seq}
      follow=${follow} testid="journal-list" />
    ${selected && html`<div class="card" style="margin-top: 12px" data-testid="journal-record"><h3>Record #${selected.seq}</h3><${Json} value=${selected} /></div>`}`;
}
