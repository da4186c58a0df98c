// Webhooks: subscriptions (add, pause, resume, delete), the delivery log (every attempt, live), dead letters, and one
// delivery with each attempt's exact body, ms-signature, status, latency and fault, and a redeliver button.
import { useMemo, useState } from "preact/hooks";
import { html, get, post, patch, del, qs, fmt, shortTime, time, statusClass, usePoll, useAction, Message, ErrorLine, VirtualList } from "../lib.js";
import { useJournalFeed } from "../feed.js";

function Subscriptions({ actions }) {
  const [subs, error, refresh] = usePoll(() => get("/webhooks"), 3000);
  const act = useAction();
  const blank = { name: "", callbackUrl: "http://127.0.0.1:9000/xtnd/webhooks", secret: "", techContactEmail: "", warehouseFilter: "", triggers: null };
  const [form, setForm] = useState(blank);
  const triggers = form.triggers || actions;
  const toggle = (a) => setForm({ ...form, triggers: triggers.includes(a) ? triggers.filter((t) => t !== a) : triggers.concat([a]) });
  const add = (e) => {
    e.preventDefault();
    const body = { name: form.name.trim(), callbackUrl: form.callbackUrl.trim(), secret: form.secret, techContactEmail: form.techContactEmail,
      warehouseFilter: form.warehouseFilter.split(",").map((w) => w.trim()).filter(Boolean), triggers, active: true };
    act.run(async () => { const r = await post("/webhooks", body); setForm(blank); refresh(); return r; }, (r) => `Subscription ${r.name} added.`);
  };
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  return html`<div class="card" style="margin-bottom: 12px">
    <h2>Subscriptions</h2>
    <${ErrorLine} error=${error} />
    <table data-testid="subscriptions">
      <tr><th>name</th><th>callbackUrl</th><th>active</th><th>triggers</th><th>warehouseFilter</th><th></th></tr>
      ${(subs ? subs.items : []).map((s) => html`<tr data-subscription=${s.name}>
        <td>${s.name}</td><td class="mono">${s.callbackUrl}</td>
        <td><span class=${"tag " + (s.active ? "ok" : "warn")} data-testid="sub-active">${s.active ? "active" : "paused"}</span></td>
        <td title=${s.triggers.join(", ")}>${s.triggers.length === actions.length ? "all " + actions.length : s.triggers.length + ": " + s.triggers.slice(0, 3).join(", ") + (s.triggers.length > 3 ? "..." : "")}</td>
        <td>${s.warehouseFilter.join(", ") || "all"}</td>
        <td><button onClick=${() => act.run(async () => { const r = await patch("/webhooks/" + encodeURIComponent(s.name), { active: !s.active }); refresh(); return r; }, (r) => `${r.name} ${r.active ? "resumed" : "paused"}.`)}>${s.active ? "Pause" : "Resume"}</button>
            ${" "}<button class="danger" onClick=${() => { if (confirm(`Delete subscription ${s.name}?`)) act.run(async () => { const r = await del("/webhooks/" + encodeURIComponent(s.name)); refresh(); return r; }, `Deleted ${s.name}.`); }}>Delete</button></td>
      </tr>`)}
    </table>
    <${Message} msg=${act.msg} />
    <details>
      <summary>Add a subscription</summary>
      <form onSubmit=${add} data-testid="add-subscription">
        <div class="toolbar">
          <label class="field">name<input name="name" value=${form.name} onInput=${set("name")} required /></label>
          <label class="field">callbackUrl<input name="callbackUrl" value=${form.callbackUrl} onInput=${set("callbackUrl")} size="40" required /></label>
          <label class="field">secret<input name="secret" value=${form.secret} onInput=${set("secret")} required /></label>
          <label class="field">techContactEmail<input name="techContactEmail" value=${form.techContactEmail} onInput=${set("techContactEmail")} /></label>
          <label class="field">warehouseFilter (comma-separated, empty = all)<input name="warehouseFilter" value=${form.warehouseFilter} onInput=${set("warehouseFilter")} /></label>
        </div>
        <div class="checks">${actions.map((a) => html`<label class="check"><input type="checkbox" checked=${triggers.includes(a)} onChange=${() => toggle(a)} /> ${a}</label>`)}</div>
        <p><button class="primary" type="submit" disabled=${act.busy}>Add subscription</button></p>
      </form>
    </details>
  </div>`;
}

const LOG_COLUMNS = [
  { label: "seq", width: "70px", render: (r) => "#" + r.seq },
  { label: "time", width: "100px", render: (r) => shortTime(r.time) },
  { label: "subscription", width: "110px", render: (r) => r.subscription },
  { label: "actions", width: "minmax(200px, 2fr)", render: (r) => (r.notifications || []).map((n) => n.Action).join(", ") },
  { label: "attempt", width: "60px", render: (r) => r.attempt },
  { label: "status", width: "80px", render: (r) => html`<span class=${statusClass(r.status)}>${r.status ?? r.error ?? "-"}</span>` },
  { label: "ms", width: "70px", render: (r) => fmt(r.latencyMs, 1) },
  { label: "outcome", width: "80px", render: (r) => html`<span class=${r.outcome === "delivered" ? "ok" : r.outcome === "retry" ? "warn" : "bad"}>${r.outcome}</span>` },
  { label: "fault", width: "minmax(90px, 1fr)", render: (r) => html`<span class="warn">${r.fault || (r.forged ? "forged" : "")}</span>` },
];

function DeliveryLog({ selected }) {
  const feed = useJournalFeed({ kind: "delivery", window: 20000, cap: 50000 });
  const [outcome, setOutcome] = useState("");
  const [text, setText] = useState("");
  const [follow, setFollow] = useState(true);
  const shown = useMemo(() => feed.items.filter((r) => (!outcome || r.outcome === outcome) &&
    (!text || JSON.stringify(r.notifications).toLowerCase().includes(text.toLowerCase()))), [feed.items, outcome, text]);
  return html`
    <div class="toolbar">
      <label class="field">outcome<select value=${outcome} onChange=${(e) => setOutcome(e.target.value)}>${["", "delivered", "retry", "dead", "gone"].map((o) => html`<option value=${o}>${o || "any"}</option>`)}</select></label>
      <label class="field">search actions and details<input type="search" value=${text} onInput=${(e) => setText(e.target.value)} placeholder="e.g. OrderPicked or 100003" /></label>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> follow</label>
      <button onClick=${() => feed.loadOlder()} disabled=${!feed.oldestAsked}>Load older</button>
    </div>
    <p class="muted" data-testid="delivery-count">${fmt(shown.length)} attempts shown of ${fmt(feed.items.length)} loaded. Click one for its body and signature.</p>
    <${ErrorLine} error=${feed.error} />
    <${VirtualList} items=${shown} columns=${LOG_COLUMNS} keyOf=${(r) => r.seq} follow=${follow} testid="delivery-log"
      selectedKey=${null} onPick=${(r) => { location.hash = "#/webhooks/" + r.deliveryId; }} />`;
}

function DeadLetters() {
  const [data, error, refresh] = usePoll(() => get("/deliveries" + qs({ status: "dead", limit: 1000 })), 2000);
  const act = useAction();
  return html`
    <${ErrorLine} error=${error} />
    <${Message} msg=${act.msg} />
    ${data && data.items.length === 0 ? html`<p class="muted" data-testid="no-dead-letters">No dead letters: every delivery was delivered, gone (410) or is still trying.</p>` : html`
    <div class="scroll"><table data-testid="dead-letters">
      <tr><th>created</th><th>subscription</th><th>actions</th><th>attempts</th><th></th></tr>
      ${(data ? data.items : []).map((d) => html`<tr data-delivery=${d.deliveryId}>
        <td class="mono">${time(d.createdAt)}</td><td>${d.subscription}</td><td>${d.actions.join(", ")}</td>
        <td class="mono">${d.attempts.map((a) => `#${a.attempt} ${a.status ?? a.error}`).join(" · ")}</td>
        <td><a href=${"#/webhooks/" + d.deliveryId}>details</a>${" "}
          <button disabled=${act.busy || d.forged} onClick=${() => act.run(async () => { const r = await post(`/deliveries/${d.deliveryId}/redeliver`); refresh(); return r; }, `Redelivering ${d.deliveryId}.`)}>Redeliver</button></td>
      </tr>`)}
    </table></div>`}`;
}

function DeliveryDetail({ id }) {
  const [d, error, refresh] = usePoll(() => get("/deliveries/" + id), 1500, [id]);
  const [wire] = usePoll(() => get(`/deliveries/${id}/wire`), 3000, [id]);
  const act = useAction();
  if (error && !d) return html`<${ErrorLine} error=${error} />`;
  if (!d) return html`<p class="loading">Loading delivery ${id}...</p>`;
  const sent = wire ? Object.fromEntries(wire.attempts.map((a) => [a.attempt, a])) : {};
  return html`<div class="card" data-testid="delivery-detail">
    <h2>Delivery <span class="mono">${d.deliveryId}</span> <span class=${"tag " + (d.status === "delivered" ? "ok" : d.status === "pending" ? "warn" : "bad")} data-testid="delivery-status">${d.status}</span></h2>
    <dl class="kv">
      <dt>subscription</dt><dd>${d.subscription}</dd><dt>url</dt><dd class="mono">${d.url}</dd>
      <dt>actions</dt><dd>${d.actions.join(", ")}</dd><dt>NotificationId</dt><dd class="mono">${d.notificationId}</dd>
      <dt>created</dt><dd class="mono">${time(d.createdAt)}</dd>${d.nextAttemptAt && html`<dt>next attempt</dt><dd class="mono">${time(d.nextAttemptAt)}</dd>`}
    </dl>
    <p><button class="primary" disabled=${act.busy || d.status === "pending" || d.forged}
      onClick=${() => act.run(async () => { const r = await post(`/deliveries/${id}/redeliver`); refresh(); return r; }, "Sent again: watch the attempts below.")}>Redeliver</button>
      ${" "}<a href="#/webhooks">back to the log</a></p>
    <${Message} msg=${act.msg} />
    <h3>Attempts</h3>
    ${d.attempts.length === 0 && html`<p class="muted">None yet.</p>`}
    ${d.attempts.map((a) => { const w = sent[a.attempt]; return html`<div class="card" style="margin-bottom: 8px" data-attempt=${a.attempt}>
      <div><b>attempt ${a.attempt}</b> <span class="mono">${time(a.time)}</span> → <span class=${statusClass(a.status)}>${a.status ?? a.error}</span>
        · ${fmt(a.latencyMs, 1)} ms${a.fault ? html` · <span class="warn">fault ${a.fault}</span>` : ""}</div>
      ${w && html`<div class="mono">POST ${w.url}</div>
        ${Object.entries(w.headers).map(([k, v]) => html`<div class="mono">${k}: <span data-testid=${k === "ms-signature" ? "signature" : undefined}>${v}</span></div>`)}
        ${w.note && html`<div class="warn">${w.note}</div>`}
        <pre class="json">${w.body}</pre>`}
    </div>`; })}
  </div>`;
}

export function Webhooks({ arg, stats }) {
  const [tab, setTab] = useState("log");
  const actions = stats ? stats.actions : [];
  return html`
    <h1>Webhooks</h1>
    <${Subscriptions} actions=${actions} />
    ${arg && html`<${DeliveryDetail} id=${arg} key=${arg} />`}
    <div class="tabs" style="margin-top: 12px">
      <button class=${tab === "log" ? "active" : ""} onClick=${() => setTab("log")}>Delivery log</button>
      <button class=${tab === "dead" ? "active" : ""} onClick=${() => setTab("dead")}>Dead letters</button>
    </div>
    ${tab === "log" ? html`<${DeliveryLog} selected=${arg} />` : html`<${DeadLetters} />`}`;
}
