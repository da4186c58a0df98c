// Overview: company, clock (advance under a virtual clock), counters, API and hook rates, recent errors.
import { useState } from "preact/hooks";
import { html, post, fmt, time, useAction, Message, Chart } from "../lib.js";

function ratesChart(el, stats) {
  const r = stats.rates;
  const c = window.XtndCharts.line(el, {
    title: "API calls and hook attempts per second (last 5 minutes)", x: r.seconds, xTime: true, yLabel: "per second",
    stepped: true, series: [{ label: "API calls", values: r.api }, { label: "hook attempts", values: r.hooks }],
  });
  return { update: (s) => c.setData(s.rates.seconds, [s.rates.api, s.rates.hooks]) };
}

function Counter({ label, value, cls, testid }) {
  return html`<div><div class="muted">${label}</div><div class=${"big " + (cls || "")} data-testid=${testid}>${fmt(value)}</div></div>`;
}

export function Overview({ stats }) {
  const [seconds, setSeconds] = useState("60");
  const act = useAction();
  if (!stats) return html`<p class="loading">Loading...</p>`;
  const errors = stats.api.errors;
  const out = stats.deliveries.outcomes;
  const virtual = stats.clock.kind === "virtual";
  return html`
    <h1>Overview</h1>
    <div class="grid">
      <div class="card">
        <h2>Company</h2>
        <dl class="kv">
          <dt>company</dt><dd data-testid="overview-company">${stats.company}</dd>
          <dt>API</dt><dd class="mono">${stats.apiBase}</dd>
          <dt>seed</dt><dd>${stats.seed}</dd>
          <dt>catalogue</dt><dd>${fmt(stats.catalogue.products)} products, ${stats.catalogue.warehouses} warehouses, ${fmt(stats.catalogue.customers)} customers</dd>
          <dt>version</dt><dd>${stats.name} ${stats.version}</dd>
          <dt>docs</dt><dd><a href="/_mock/docs">/_mock/docs</a> · <a href="/RESTAPI/swagger/ui/index">Swagger UI</a></dd>
        </dl>
      </div>
      <div class="card">
        <h2>Clock</h2>
        <div class="big mono" data-testid="overview-clock">${time(stats.clock.now)}</div>
        <p class="muted">${virtual ? "Virtual clock: time moves only when you advance it; every timer that falls due runs, in order."
          : "Real clock (start with --clock virtual to advance time by hand)."}</p>
        ${virtual && html`<form class="inline" onSubmit=${(e) => { e.preventDefault();
            act.run(() => post("/clock/advance", { seconds: Number(seconds) }), (r) => `Now ${time(r.now)}.`); }}>
          <label class="field">seconds<input type="number" min="0" step="any" value=${seconds} name="seconds"
            onInput=${(e) => setSeconds(e.target.value)} /></label>
          <button class="primary" type="submit" disabled=${act.busy}>Advance</button>
          ${[60, 300, 3600].map((s) => html`<button type="button" disabled=${act.busy}
            onClick=${() => act.run(() => post("/clock/advance", { seconds: s }), (r) => `Now ${time(r.now)}.`)}>+${s < 3600 ? s / 60 + " min" : "1 h"}</button>`)}
        </form>`}
        <${Message} msg=${act.msg} />
      </div>
      <div class="card">
        <h2>API calls</h2>
        <div class="grid" style="grid-template-columns: repeat(3, 1fr)">
          <${Counter} label="calls" value=${stats.api.calls} testid="count-api" />
          <${Counter} label="faulted" value=${stats.api.faulted} />
          <${Counter} label="quirks" value=${stats.api.quirks} />
        </div>
        <p class="muted">${Object.keys(errors).length ? Object.entries(errors).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ") : "no errors"}</p>
      </div>
      <div class="card">
        <h2>Webhook attempts</h2>
        <div class="grid" style="grid-template-columns: repeat(3, 1fr)">
          <${Counter} label="delivered" value=${out.delivered || 0} cls="ok" testid="count-delivered" />
          <${Counter} label="retried" value=${out.retry || 0} cls="warn" />
          <${Counter} label="dead" value=${out.dead || 0} cls="bad" testid="count-dead" />
        </div>
        <p class="muted">${fmt(stats.subscriptions.active)} of ${fmt(stats.subscriptions.total)} subscriptions active · ${fmt(stats.deliveries.kept)} deliveries kept · ${out.gone || 0} gone</p>
      </div>
      <div class="card">
        <h2>Orders</h2>
        <${Counter} label="orders" value=${stats.orders.total} testid="count-orders" />
        <p class="muted">${Object.entries(stats.orders.byStatus).map(([k, v]) => `${k} ${fmt(v)}`).join(" · ") || "none yet"}</p>
      </div>
      <div class="card">
        <h2>Journal, storms, faults</h2>
        <dl class="kv">
          <dt>journal</dt><dd>${fmt(stats.journal.records)} records (last #${fmt(stats.journal.lastSeq)}${stats.journal.dropped ? `, ${fmt(stats.journal.dropped)} dropped` : ""})</dd>
          <dt>storms</dt><dd>${stats.storms.running} running of ${stats.storms.total}</dd>
          <dt>API faults</dt><dd>${stats.apiFaults} planned</dd>
        </dl>
        <p><button class="danger" onClick=${() => { if (confirm("Back to the seeded start? Orders, hooks, journal and storms are forgotten.")) act.run(() => post("/reset"), "Reset to the seeded start."); }}>Reset the fake</button></p>
      </div>
    </div>
    <div class="card" style="margin-top: 12px">
      <${Chart} make=${ratesChart} data=${stats} testid="rates-chart" />
    </div>
    <div class="card" style="margin-top: 12px">
      <h2>Recent errors</h2>
      ${stats.recentErrors.length === 0 ? html`<p class="muted">None.</p>` : html`<div class="scroll" style="max-height: 300px"><table data-testid="recent-errors">
        <tr><th>seq</th><th>time</th><th>what</th></tr>
        ${stats.recentErrors.map((e) => html`<tr><td>${e.seq ? html`<a href=${"#/journal/" + e.seq}>#${e.seq}</a>` : e.kind}</td><td class="mono">${time(e.time)}</td><td class="mono">${e.text}</td></tr>`)}
      </table></div>`}
    </div>`;
}
