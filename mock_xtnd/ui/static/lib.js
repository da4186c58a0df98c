// Shared pieces of the dashboard: the control-surface client, polling, and a few components.
import { h } from "preact";
import { useEffect, useLayoutEffect, useReducer, useRef, useState } from "preact/hooks";
import htm from "htm";
import { Virtualizer, elementScroll, observeElementOffset, observeElementRect } from "@tanstack/virtual-core";

export const html = htm.bind(h);
export const BASE = "/_mock";

// ------------------------------------------------------------------ the control surface
export class ApiError extends Error {
  constructor(status, body) {
    const fields = body && body.ModelState
      ? Object.entries(body.ModelState).map(([f, m]) => `${f}: ${[].concat(m).join("; ")}`).join(" / ") : "";
    super(`${status}: ${(body && body.Message) || "request failed"}${fields ? " (" + fields + ")" : ""}`);
    this.status = status;
    this.body = body;
  }
}

// Every state-changing call carries a JSON body ({} when there is nothing to say), Content-Type: application/json
// and X-Mock-Xtnd: 1: what the control surface asks of a browser so that no other page can change the fake.
export async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Mock-Xtnd"] = "1";
    init.body = JSON.stringify(body === undefined ? {} : body);
  }
  const r = await fetch(BASE + path, init);
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = { Message: text.slice(0, 300) }; }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}
export const get = (path) => call("GET", path);
export const post = (path, body) => call("POST", path, body);
export const put = (path, body) => call("PUT", path, body);
export const patch = (path, body) => call("PATCH", path, body);
export const del = (path) => call("DELETE", path);

export function qs(params) {
  const parts = [];
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(v)}`);
  }
  return parts.length ? "?" + parts.join("&") : "";
}

// ------------------------------------------------------------------ polling
// Call fn now and every `ms` while mounted (never two at once: a call asked for meanwhile runs right after; paused
// while the tab is hidden). When deps change (a search typed), the last answer stays shown until the new one comes.
// Returns [data, error, refresh].
export function usePoll(fn, ms, deps = []) {
  const [state, setState] = useState({ data: null, error: null });
  const busy = useRef(false);
  const again = useRef(false);
  const alive = useRef(true);
  const run = useRef(null);
  run.current = async () => {
    if (document.hidden) return;
    if (busy.current) { again.current = true; return; }
    busy.current = true;
    try {
      const data = await fn();
      if (alive.current) setState({ data, error: null });
    } catch (e) {
      if (alive.current) setState((s) => ({ data: s.data, error: e }));
    } finally {
      busy.current = false;
      if (again.current && alive.current) { again.current = false; run.current(); }
    }
  };
  useEffect(() => {
    alive.current = true;
    run.current();
    const t = ms ? setInterval(() => run.current(), ms) : null;
    return () => { alive.current = false; if (t) clearInterval(t); };
  }, deps);
  return [state.data, state.error, () => run.current()];
}

// An action button's state: run(fn) shows "ok" or the error message under the form.
export function useAction() {
  const [msg, setMsg] = useState(null);
  const [busy, setBusy] = useState(false);
  async function run(fn, okText) {
    setBusy(true);
    try {
      const result = await fn();
      setMsg({ ok: true, text: typeof okText === "function" ? okText(result) : (okText || "Done.") });
      return result;
    } catch (e) {
      setMsg({ ok: false, text: e.message });
      return undefined;
    } finally {
      setBusy(false);
    }
  }
  return { msg, busy, run, clear: () => setMsg(null) };
}

export function Message({ msg }) {
  if (!msg) return null;
  return html`<div class=${"message " + (msg.ok ? "ok" : "bad")} role=${msg.ok ? "status" : "alert"}>${msg.text}</div>`;
}

export function ErrorLine({ error }) {
  return error ? html`<div class="message bad" role="alert">${error.message}</div>` : null;
}

// ------------------------------------------------------------------ formatting
export const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v)) ? "-"
  : Number(v).toLocaleString("en-US", { maximumFractionDigits: digits });
export const time = (iso) => iso ? iso.replace("T", " ").replace("Z", "") : "-";
export const shortTime = (iso) => iso ? iso.slice(11, 23) : "-";
export function statusClass(status) {
  if (status === null || status === undefined || status === 0) return "bad";
  if (status >= 500) return "bad";
  if (status >= 400) return "warn";
  return "ok";
}
export function Json({ value }) {
  return html`<pre class="json">${JSON.stringify(value, null, 2)}</pre>`;
}

// ------------------------------------------------------------------ a virtualised list
// Rows of one fixed height in a scrolling box, only the visible ones in the DOM (TanStack Virtual). columns:
// [{label, width, render(item)}]; onPick(item) on click; follow: keep the newest (last) row in view.
export function VirtualList({ items, columns, rowHeight = 26, onPick, selectedKey, keyOf, follow, testid }) {
  const scroller = useRef(null);
  const [, rerender] = useReducer((n) => n + 1, 0);
  const v = useRef(null);
  if (!v.current) {
    v.current = new Virtualizer({
      count: items.length, getScrollElement: () => scroller.current, estimateSize: () => rowHeight, overscan: 12,
      scrollToFn: elementScroll, observeElementRect, observeElementOffset, onChange: () => rerender(),
      paddingStart: rowHeight,
    });
  }
  const virt = v.current;
  virt.setOptions({ ...virt.options, count: items.length, getScrollElement: () => scroller.current,
                    estimateSize: () => rowHeight, onChange: () => rerender() });
  useLayoutEffect(() => virt._didMount(), []);
  useLayoutEffect(() => { virt._willUpdate(); });
  useLayoutEffect(() => {
    if (follow && items.length) virt.scrollToIndex(items.length - 1, { align: "end" });
  }, [follow, items.length]);
  const template = columns.map((c) => c.width || "1fr").join(" ");
  return html`<div class="vlist" ref=${scroller} data-testid=${testid} data-rows=${items.length}>
    <div style=${{ height: virt.getTotalSize() + "px", position: "relative" }}>
      <div class="vrow head" style=${{ height: rowHeight + "px", gridTemplateColumns: template }}>
        ${columns.map((c) => html`<span>${c.label}</span>`)}
      </div>
      ${virt.getVirtualItems().map((row) => {
        const item = items[row.index];
        const key = keyOf ? keyOf(item) : row.index;
        return html`<div key=${key} class=${"vrow" + (onPick ? " clickable" : "") + (selectedKey === key ? " selected" : "")}
            style=${{ top: row.start + "px", height: rowHeight + "px", gridTemplateColumns: template }}
            onClick=${onPick ? () => onPick(item) : undefined}>
          ${columns.map((c) => html`<span>${c.render(item)}</span>`)}
        </div>`;
      })}
    </div>
  </div>`;
}

// ------------------------------------------------------------------ a uPlot chart as a component
// make(el) builds the chart once (XtndCharts.*) and returns an object with update(data).
export function Chart({ make, data, testid }) {
  const el = useRef(null);
  const chart = useRef(null);
  useEffect(() => {
    if (!data) return;
    if (!chart.current) chart.current = make(el.current, data);
    else chart.current.update(data);
  }, [data]);
  return html`<div ref=${el} data-testid=${testid}></div>`;
}
