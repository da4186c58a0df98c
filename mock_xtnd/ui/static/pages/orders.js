// Orders: the list (paged, searched on the server) and one order with the back-office moves as buttons, the hooks
// made about it and the API calls that named it (a client's follow-up GET CustomerOrders/{n} shows up here).
import { useState } from "preact/hooks";
import { html, get, post, qs, fmt, time, shortTime, statusClass, usePoll, useAction, Message, ErrorLine, Json } from "../lib.js";

const PAGE = 50;
const STATUSES = ["", "Created", "Reserved", "PartiallyDelivered", "Terminated", "Annulled"];

function OrderList({ selected }) {
  const [q, setQ] = useState("");
  const [status, setStatus] = useState("");
  const [offset, setOffset] = useState(0);
  const [data, error] = usePoll(() => get("/orders" + qs({ q, orderStatus: status, offset, limit: PAGE })), 2000, [q, status, offset]);
  return html`
    <div class="toolbar">
      <label class="field">search<input type="search" name="q" value=${q} placeholder="order, external or customer number"
        onInput=${(e) => { setQ(e.target.value); setOffset(0); }} /></label>
      <label class="field">orderStatus<select name="status" value=${status} onChange=${(e) => { setStatus(e.target.value); setOffset(0); }}>
        ${STATUSES.map((s) => html`<option value=${s}>${s || "all"}</option>`)}
      </select></label>
    </div>
    <${ErrorLine} error=${error} />
    ${data && html`<div class="pager">
      <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
      <span>${data.total ? `${fmt(offset + 1)}-${fmt(Math.min(offset + PAGE, data.total))} of ${fmt(data.total)}` : "no orders yet (a webshop POSTs CustomerOrders; the back office makes some with --simulate)"}</span>
      <button disabled=${offset + PAGE >= data.total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
    </div>`}
    <div class="scroll">
      <table data-testid="orders">
        <tr><th>orderNumber</th><th>external</th><th>orderStatus</th><th>customer</th><th class="num">rows</th><th>askedDeliveryDate</th><th>created</th></tr>
        ${(data ? data.items : []).map((o) => html`<tr class=${"clickable" + (o.orderNumber === selected ? " selected" : "")}
            data-order=${o.orderNumber} onClick=${() => { location.hash = "#/orders/" + encodeURIComponent(o.orderNumber); }}>
          <td class="mono">${o.orderNumber}</td><td class="mono">${o.orderNumberExternal || ""}</td>
          <td class="order-status">${o.orderStatus}</td><td>${o.customerNumber}</td><td class="num">${o.rows}</td>
          <td>${o.askedDeliveryDate || ""}</td><td class="mono">${time(o.createdAt)}</td>
        </tr>`)}
      </table>
    </div>`;
}

function OrderDetail({ number }) {
  const [data, error, refresh] = usePoll(() => get("/orders/" + encodeURIComponent(number)), 1500, [number]);
  const [date, setDate] = useState("");
  const act = useAction();
  const move = (what, body) => act.run(async () => {
    const r = await post(`/orders/${encodeURIComponent(number)}/${what}`, body);
    refresh();
    return r;
  }, (r) => `${what}: order ${number} is ${r.orderHeader.orderStatus}.`);
  if (error && !data) return html`<${ErrorLine} error=${error} />`;
  if (!data) return html`<p class="loading">Loading order ${number}...</p>`;
  const head = data.order.orderHeader;
  return html`
    <div class="card" data-testid="order-detail">
      <h2>Order ${head.orderNumber} <span class="tag" data-testid="order-status">${head.orderStatus}</span></h2>
      <dl class="kv">
        <dt>orderNumberExternal</dt><dd class="mono">${head.orderNumberExternal || "-"}</dd>
        <dt>customer</dt><dd>${head.customerNumber} ${head.customerName || ""}</dd>
        <dt>orderDate</dt><dd>${head.orderDate}</dd>
        <dt>askedDeliveryDate</dt><dd data-testid="order-date">${head.askedDeliveryDate || "-"}</dd>
      </dl>
      <h3>Back office</h3>
      <div class="toolbar">
        <button onClick=${() => move("reserve")} disabled=${act.busy}>Reserve</button>
        <button onClick=${() => move("pick")} disabled=${act.busy}>Pick</button>
        <button class="danger" onClick=${() => move("cancel")} disabled=${act.busy}>Cancel</button>
        <label class="field">new askedDeliveryDate<input type="date" name="askedDeliveryDate" value=${date} onInput=${(e) => setDate(e.target.value)} /></label>
        <button onClick=${() => move("delivery-date", { askedDeliveryDate: date })} disabled=${act.busy || !date}>Move delivery date</button>
      </div>
      <${Message} msg=${act.msg} />
      <h3>Rows</h3>
      <table>
        <tr><th>#</th><th>product</th><th>name</th><th class="num">quantity</th><th class="num">delivered</th><th>warehouse</th><th>orderRowStatus</th></tr>
        ${data.order.orderRows.map((r) => html`<tr><td>${r.position}</td><td class="mono">${r.product && r.product.productNumber}</td>
          <td>${r.product && r.product.productName}</td><td class="num">${fmt(r.salesData && r.salesData.quantity)}</td>
          <td class="num">${fmt(r.deliveryData && r.deliveryData.quantity)}</td><td>${r.warehouse}</td><td>${r.orderRowStatus}</td></tr>`)}
      </table>
      <h3>Hooks about this order (${data.hooks.length})</h3>
      ${data.hooks.length === 0 ? html`<p class="muted">None (no subscription wants order actions, or nothing happened yet).</p>` : html`
      <table data-testid="order-hooks">
        <tr><th>created</th><th>action</th><th>subscription</th><th>status</th><th>attempts</th></tr>
        ${data.hooks.map((d) => html`<tr data-action=${d.actions.join(",")}>
          <td class="mono">${shortTime(d.createdAt)}</td><td>${d.actions.join(", ")}</td><td>${d.subscription}</td>
          <td><span class=${"tag " + (d.status === "delivered" ? "ok" : d.status === "pending" ? "warn" : "bad")}>${d.status}</span></td>
          <td class="mono">${d.attempts.map((a) => `#${a.attempt} ${a.status ?? a.error} ${fmt(a.latencyMs, 1)} ms`).join(" · ")}
            ${" "}<a href=${"#/webhooks/" + d.deliveryId}>details</a></td></tr>`)}
      </table>`}
      <h3>API calls naming this order (${data.calls.length})</h3>
      ${data.calls.length === 0 ? html`<p class="muted">None yet.</p>` : html`
      <table data-testid="order-calls">
        <tr><th>seq</th><th>time</th><th>user</th><th>call</th><th>status</th><th class="num">ms</th></tr>
        ${data.calls.map((c) => html`<tr><td><a href=${"#/journal/" + c.seq}>#${c.seq}</a></td><td class="mono">${shortTime(c.time)}</td><td>${c.user || "-"}</td>
          <td class="mono">${c.method} ${c.path}</td><td class=${statusClass(c.status)}>${c.status}</td><td class="num">${fmt(c.latencyMs, 1)}</td></tr>`)}
      </table>`}
      <details><summary>As GET CustomerOrders/${head.orderNumber} answers it</summary><${Json} value=${data.order} /></details>
    </div>`;
}

export function Orders({ arg }) {
  return html`
    <h1>Orders</h1>
    <div class="split">
      <div><${OrderList} selected=${arg} /></div>
      <div>${arg ? html`<${OrderDetail} number=${arg} key=${arg} />` : html`<p class="muted">Pick an order to see it, move it through the warehouse, and watch its hooks and your client's calls.</p>`}</div>
    </div>`;
}
