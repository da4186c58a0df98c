// Storms: start one (shape, rate, count or duration, products, skew, warehouses) and watch it: steps emitted vs hooks
// delivered per second, delivery latency per second, the latency histogram and percentiles, and the lag of clients'
// reads (GET /_mock/storm/{id}/series). The same plots as `mock-xtnd storm --report`.
import { useState } from "preact/hooks";
import { html, get, post, fmt, time, usePoll, useAction, Message, ErrorLine, Chart } from "../lib.js";

const makeStorm = (el, data) => window.XtndCharts.storm(el, data);

function StormForm({ onStarted }) {
  const [f, setF] = useState({ shape: "constant", rate: "200", bound: "count", count: "2000", durationSeconds: "10", products: "", skew: "uniform", zipfS: "1.1", warehouses: "", burstPeriodSeconds: "10" });
  const act = useAction();
  const set = (k) => (e) => setF({ ...f, [k]: e.target.value });
  const submit = (e) => {
    e.preventDefault();
    const body = { shape: f.shape, rate: Number(f.rate), skew: f.skew };
    if (f.bound === "count") body.count = Number(f.count); else body.durationSeconds = Number(f.durationSeconds);
    if (f.products) body.products = Number(f.products);
    if (f.skew === "zipf") body.zipfS = Number(f.zipfS);
    if (f.warehouses.trim()) body.warehouses = f.warehouses.split(",").map((w) => w.trim()).filter(Boolean);
    if (f.shape === "burst") body.burstPeriodSeconds = Number(f.burstPeriodSeconds);
    act.run(() => post("/storm", body), (r) => { onStarted(r.stormId); return `Started ${r.stormId}: ${fmt(r.planned)} steps over ${fmt(r.plannedDurationSeconds, 1)} s, peak ${fmt(r.plannedPeakRate)}/s.`; });
  };
  return html`<div class="card" style="margin-bottom: 12px">
    <h2>Start a storm</h2>
    <form class="inline" onSubmit=${submit} data-testid="storm-form">
      <label class="field">shape<select name="shape" value=${f.shape} onChange=${set("shape")}>${["constant", "ramp", "burst", "poisson"].map((s) => html`<option>${s}</option>`)}</select></label>
      <label class="field">rate (steps/s)<input name="rate" type="number" min="0" step="any" value=${f.rate} onInput=${set("rate")} size="7" /></label>
      <label class="field">bound<select name="bound" value=${f.bound} onChange=${set("bound")}><option value="count">count</option><option value="duration">durationSeconds</option></select></label>
      ${f.bound === "count" ? html`<label class="field">count<input name="count" type="number" min="1" value=${f.count} onInput=${set("count")} size="8" /></label>`
        : html`<label class="field">durationSeconds<input name="durationSeconds" type="number" min="0" step="any" value=${f.durationSeconds} onInput=${set("durationSeconds")} size="6" /></label>`}
      <label class="field">products (empty = all)<input name="products" type="number" min="1" value=${f.products} onInput=${set("products")} size="6" /></label>
      <label class="field">skew<select name="skew" value=${f.skew} onChange=${set("skew")}><option>uniform</option><option>zipf</option></select></label>
      ${f.skew === "zipf" && html`<label class="field">zipfS<input name="zipfS" type="number" step="any" value=${f.zipfS} onInput=${set("zipfS")} size="4" /></label>`}
      ${f.shape === "burst" && html`<label class="field">burstPeriodSeconds<input name="burstPeriodSeconds" type="number" step="any" value=${f.burstPeriodSeconds} onInput=${set("burstPeriodSeconds")} size="4" /></label>`}
      <label class="field">warehouses (empty = all)<input name="warehouses" value=${f.warehouses} onInput=${set("warehouses")} size="8" /></label>
      <button class="primary" type="submit" disabled=${act.busy}>Start storm</button>
    </form>
    <p class="muted">Each step reserves or releases one unit for another sales channel: one AvailableBalanceChanged per subscription that wants it. A burst runs at ten times the rate for a tenth of each period.</p>
    <${Message} msg=${act.msg} />
  </div>`;
}

function StormView({ id, virtual }) {
  const [data, error] = usePoll(() => get(`/storm/${id}/series`), 1000, [id]);
  const act = useAction();
  if (error && !data) return html`<${ErrorLine} error=${error} />`;
  if (!data) return html`<p class="loading">Loading ${id}...</p>`;
  const p = data.progress, d = p.deliveries;
  return html`<div class="card" data-testid="storm-view" data-state=${p.state}>
    <h2>${p.stormId} <span class=${"tag " + (p.state === "done" ? "ok" : "warn")}>${p.state}</span></h2>
    <p>${p.shape} at ${fmt(p.rate)}/s (planned peak ${fmt(p.plannedPeakRate)}/s, emitted peak ${fmt(p.peakRate)}/s) · <b data-testid="storm-emitted">${fmt(p.emitted)}</b> of ${fmt(p.planned)} steps · ${fmt(d.delivered)} delivered, ${fmt(d.retried)} retried, ${fmt(d.failed)} failed · ${fmt(d.deliveriesPerSecond, 1)} deliveries/s · p50 ${fmt(d.p50LatencyMs, 1)} ms, p99 ${fmt(d.p99LatencyMs, 1)} ms · started ${time(p.startedAt)}</p>
    ${virtual && html`<p>Virtual clock: the storm moves as you advance it.
      ${[1, 10, 60].map((s) => html` <button onClick=${() => act.run(() => post("/clock/advance", { seconds: s }), "Advanced.")}>+${s} s</button>`)}</p>`}
    <${Message} msg=${act.msg} />
    <${Chart} make=${makeStorm} data=${data} testid="storm-charts" />
  </div>`;
}

export function Storms({ arg, stats }) {
  const [list, error] = usePoll(() => get("/storm"), 2000);
  const pick = (id) => { location.hash = "#/storms/" + id; };
  const items = list ? list.items : [];
  const current = arg || (items.length ? items[items.length - 1].stormId : null);
  return html`
    <h1>Storms</h1>
    <${StormForm} onStarted=${pick} />
    <${ErrorLine} error=${error} />
    ${items.length > 0 && html`<div class="toolbar">${items.map((s) => html`<button class=${s.stormId === current ? "primary" : ""} onClick=${() => pick(s.stormId)}>${s.stormId} (${s.state})</button>`)}</div>`}
    ${current ? html`<${StormView} id=${current} key=${current} virtual=${stats && stats.clock.kind === "virtual"} />` : html`<p class="muted">No storm since the last reset.</p>`}`;
}
