// Faults and quirks: the API fault plan (/_mock/faults), the delivery fault plan (/_mock/faults/deliveries) and the
// production quirks (/_mock/quirks), seen and changed.
import { useEffect, useState } from "preact/hooks";
import { html, get, post, put, del, fmt, time, usePoll, useAction, Message, ErrorLine } from "../lib.js";

const KINDS = ["transient", "status", "latency", "drop", "truncate", "outage", "commit-then-drop"];

function ApiFaults() {
  const [data, error, refresh] = usePoll(() => get("/faults"), 2000);
  const act = useAction();
  const [f, setF] = useState({ kind: "transient", route: "*", method: "", status: "429", message: "deadlock", probability: "1", times: "", latencyMs: "500", retryAfter: "1", startsAfterSeconds: "0", durationSeconds: "" });
  const [raw, setRaw] = useState("");
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const add = (e) => {
    e.preventDefault();
    const body = { kind: f.kind, route: f.route || "*", probability: Number(f.probability) };
    if (f.method) body.method = f.method;
    if (f.times) body.times = Number(f.times);
    if (f.kind === "status") { body.status = Number(f.status); body.retryAfter = Number(f.retryAfter); }
    if (f.kind === "transient") body.message = f.message;
    if (f.kind === "latency") body.latencyMs = Number(f.latencyMs);
    if (Number(f.startsAfterSeconds)) body.startsAfterSeconds = Number(f.startsAfterSeconds);
    if (f.durationSeconds) body.durationSeconds = Number(f.durationSeconds);
    act.run(async () => { const r = await post("/faults", body); refresh(); return r; }, (r) => `Added ${r.id}.`);
  };
  const addRaw = () => act.run(async () => { const r = await post("/faults", JSON.parse(raw)); refresh(); return r; }, (r) => `Added ${r.id}.`);
  return html`<div class="card" style="margin-bottom: 12px">
    <h2>API faults</h2>
    <p class="muted">Injected answers instead of XTND's (labelled in the journal's fault column; the judge never counts them against a client). route: a glob over the path, the route template, the path after the company or the operation id.</p>
    <${ErrorLine} error=${error} />
    <div class="scroll"><table data-testid="api-faults">
      <tr><th>id</th><th>kind</th><th>route</th><th>method</th><th>details</th><th class="num">probability</th><th class="num">times</th><th>active</th><th class="num">matched</th><th class="num">fired</th><th></th></tr>
      ${(data ? data.items : []).map((x) => html`<tr data-fault=${x.id}>
        <td>${x.id}</td><td>${x.kind}</td><td class="mono">${x.route}</td><td>${x.method || "any"}</td>
        <td>${x.kind === "status" ? `${x.status}, Retry-After ${x.retryAfter}` : x.kind === "transient" ? x.message : x.kind === "latency" ? `${fmt(x.latencyMs)} ms ${x.latencyDistribution}` : ""}</td>
        <td class="num">${x.probability}</td><td class="num">${x.times ?? "∞"}</td>
        <td class="mono">${time(x.activeFrom)}${x.activeUntil ? " - " + time(x.activeUntil) : " on"}</td>
        <td class="num">${fmt(x.matched)}</td><td class="num">${fmt(x.fired)}</td>
        <td><button class="danger" onClick=${() => act.run(async () => { const r = await del("/faults/" + x.id); refresh(); return r; }, `Removed ${x.id}.`)}>Remove</button></td>
      </tr>`)}
    </table></div>
    ${data && data.items.length > 0 && html`<p><button class="danger" onClick=${() => act.run(async () => { const r = await del("/faults"); refresh(); return r; }, "Every API fault removed.")}>Remove all</button></p>`}
    <h3>Add a fault</h3>
    <form class="inline" onSubmit=${add} data-testid="add-fault">
      <label class="field">kind<select name="kind" value=${f.kind} onChange=${set("kind")}>${KINDS.map((k) => html`<option>${k}</option>`)}</select></label>
      <label class="field">route<input name="route" value=${f.route} onInput=${set("route")} size="22" /></label>
      <label class="field">method<select name="method" value=${f.method} onChange=${set("method")}>${["", "GET", "POST", "PUT", "DELETE"].map((m) => html`<option value=${m}>${m || "any"}</option>`)}</select></label>
      ${f.kind === "status" && html`<label class="field">status<select name="status" value=${f.status} onChange=${set("status")}><option>429</option><option>500</option></select></label>
        <label class="field">retryAfter<input name="retryAfter" type="number" value=${f.retryAfter} onInput=${set("retryAfter")} size="4" /></label>`}
      ${f.kind === "transient" && html`<label class="field">message<select name="message" value=${f.message} onChange=${set("message")}><option>deadlock</option><option>timeout</option></select></label>`}
      ${f.kind === "latency" && html`<label class="field">latencyMs<input name="latencyMs" type="number" value=${f.latencyMs} onInput=${set("latencyMs")} size="6" /></label>`}
      <label class="field">probability<input name="probability" type="number" min="0" max="1" step="any" value=${f.probability} onInput=${set("probability")} size="4" /></label>
      <label class="field">times (empty = until removed)<input name="times" type="number" min="1" value=${f.times} onInput=${set("times")} size="4" /></label>
      <label class="field">startsAfterSeconds<input name="startsAfterSeconds" type="number" min="0" step="any" value=${f.startsAfterSeconds} onInput=${set("startsAfterSeconds")} size="4" /></label>
      <label class="field">durationSeconds<input name="durationSeconds" type="number" min="0" step="any" value=${f.durationSeconds} onInput=${set("durationSeconds")} size="4" /></label>
      <button class="primary" type="submit" disabled=${act.busy}>Add fault</button>
    </form>
    <details><summary>Add as JSON (every field of docs/wire.md)</summary>
      <textarea rows="4" cols="80" value=${raw} onInput=${(e) => setRaw(e.target.value)} placeholder='{"kind": "latency", "route": "ProductAvailability*", "latencyMs": 200, "latencyDistribution": "lognormal"}'></textarea>
      <p><button onClick=${addRaw} disabled=${act.busy || !raw.trim()}>Add</button></p>
    </details>
    <${Message} msg=${act.msg} />
  </div>`;
}

// A form over a flat JSON object read with GET and written whole with PUT.
function PlanForm({ path, title, note, fields, testid }) {
  const [data, error, refresh] = usePoll(() => get(path), 5000);
  const [form, setForm] = useState(null);
  const act = useAction();
  useEffect(() => { if (data && !form) setForm(data); }, [data]);
  if (!form) return html`<div class="card"><h2>${title}</h2><${ErrorLine} error=${error} /></div>`;
  const save = (e) => {
    e.preventDefault();
    const body = {};
    for (const [name, type] of fields) body[name] = type === "bool" ? !!form[name] : Number(form[name]);
    act.run(async () => { const r = await put(path, body); setForm(r); refresh(); return r; }, "Saved.");
  };
  return html`<div class="card" style="margin-bottom: 12px" data-testid=${testid}>
    <h2>${title}</h2>
    <p class="muted">${note}</p>
    <form class="inline" onSubmit=${save}>
      ${fields.map(([name, type]) => type === "bool"
        ? html`<label class="check"><input type="checkbox" name=${name} checked=${!!form[name]} onChange=${(e) => setForm({ ...form, [name]: e.target.checked })} /> ${name}</label>`
        : html`<label class="field">${name}<input type="number" step="any" min="0" name=${name} value=${form[name]} onInput=${(e) => setForm({ ...form, [name]: e.target.value })} size="6" /></label>`)}
      <button class="primary" type="submit" disabled=${act.busy}>Save</button>
      <button type="button" onClick=${() => setForm(data)}>Revert</button>
    </form>
    <${Message} msg=${act.msg} />
  </div>`;
}

export function Faults() {
  return html`
    <h1>Faults and quirks</h1>
    <${ApiFaults} />
    <${PlanForm} path="/faults/deliveries" title="Delivery faults" testid="delivery-faults"
      note="Shares (0-1) of attempts duplicated, dropped or sent with a tampered signature; extra delay, jitter and a reorder window in seconds; batch notifications per POST. Dice are seeded per delivery and attempt."
      fields=${[["duplicate", "num"], ["drop", "num"], ["tamperSignature", "num"], ["delaySeconds", "num"], ["jitterSeconds", "num"], ["reorderWindowSeconds", "num"], ["batch", "num"]]} />
    <${PlanForm} path="/quirks" title="Production quirks" testid="quirks"
      note="What a real tenant does (docs/wire.md): a share of calls answering a transient 400 (deadlock or timeout), a page past the end answering 400, the orders list timing out without modifiedDateFrom, Products?modifiedDateFrom missing new products."
      fields=${[["transientErrors", "num"], ["pagePastEnd400", "bool"], ["ordersListNeedsModifiedDate", "bool"], ["productsModifiedMissesNew", "bool"]]} />`;
}
