// Stock: balances per product and warehouse (paged and searched on the server), and a back-office stock move.
import { useState } from "preact/hooks";
import { html, get, post, qs, fmt, time, usePoll, useAction, Message, ErrorLine } from "../lib.js";

const PAGE = 100;

export function Stock() {
  const [q, setQ] = useState("");
  const [warehouse, setWarehouse] = useState("");
  const [offset, setOffset] = useState(0);
  const [data, error] = usePoll(() => get("/balances" + qs({ q, warehouse, offset, limit: PAGE })), 2000, [q, warehouse, offset]);
  const [move, setMove] = useState({ productNumber: "", warehouse: "", kind: "balanceDifference", value: "10" });
  const act = useAction();
  const submit = (e) => {
    e.preventDefault();
    const body = { productNumber: move.productNumber.trim(), warehouse: move.warehouse.trim(), [move.kind]: Number(move.value) };
    act.run(() => post("/stock", body), (r) => `${r.productNumber} in warehouse ${r.warehouse}: available ${fmt(r.availableBalanceNow ?? r.availableBalance)}.`);
  };
  const field = (name) => (e) => setMove({ ...move, [name]: e.target.value });
  return html`
    <h1>Stock</h1>
    <div class="card" style="margin-bottom: 12px">
      <h2>Stock move (back office)</h2>
      <form class="inline" onSubmit=${submit} data-testid="stock-move">
        <label class="field">product<input name="productNumber" value=${move.productNumber} onInput=${field("productNumber")} required /></label>
        <label class="field">warehouse<input name="warehouse" value=${move.warehouse} onInput=${field("warehouse")} size="6" required /></label>
        <label class="field">change<select name="kind" value=${move.kind} onChange=${field("kind")}>
          <option value="balanceDifference">balanceDifference (+/-)</option>
          <option value="physicalBalance">physicalBalance (set)</option>
          <option value="blockedBalance">blockedBalance (set)</option>
        </select></label>
        <label class="field">value<input name="value" type="number" value=${move.value} onInput=${field("value")} required size="8" /></label>
        <button class="primary" type="submit" disabled=${act.busy}>Move stock</button>
      </form>
      <p class="muted">Changes the real ledger: a balance hook goes to every subscription that wants it. Click a row to fill the form.</p>
      <${Message} msg=${act.msg} />
    </div>
    <div class="toolbar">
      <label class="field">search product number or name<input type="search" name="q" value=${q} placeholder="e.g. 100003"
        onInput=${(e) => { setQ(e.target.value); setOffset(0); }} /></label>
      <label class="field">warehouse<select name="warehouse" value=${warehouse} onChange=${(e) => { setWarehouse(e.target.value); setOffset(0); }}>
        <option value="">all</option>
        ${(data ? data.warehouses : []).map((w) => html`<option value=${w}>${w}</option>`)}
      </select></label>
      ${data && html`<div class="pager">
        <button disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span data-testid="stock-range">${data.total ? `${fmt(offset + 1)}-${fmt(Math.min(offset + PAGE, data.total))} of ${fmt(data.total)}` : "no match"}</span>
        <button disabled=${offset + PAGE >= data.total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
      </div>`}
    </div>
    <${ErrorLine} error=${error} />
    <div class="scroll">
      <table data-testid="balances">
        <tr><th>product</th><th>name</th><th>warehouse</th><th class="num">physicalBalance</th><th class="num">orderedQuantity</th>
            <th class="num">blockedBalance</th><th class="num">availableBalanceNow</th><th>changeDate</th></tr>
        ${(data ? data.items : []).map((b) => html`<tr class="clickable" data-product=${b.productNumber} data-warehouse=${b.warehouse}
            onClick=${() => setMove({ ...move, productNumber: b.productNumber, warehouse: b.warehouse })}>
          <td class="mono">${b.productNumber}</td><td>${b.productName}</td><td>${b.warehouse}</td>
          <td class="num">${fmt(b.physicalBalance)}</td><td class="num">${fmt(b.orderedQuantity)}</td><td class="num">${fmt(b.blockedBalance)}</td>
          <td class=${"num available " + (b.availableBalanceNow < 0 ? "bad" : "")}>${fmt(b.availableBalanceNow)}</td><td class="mono">${time(b.changeDate)}</td>
        </tr>`)}
      </table>
    </div>`;
}
