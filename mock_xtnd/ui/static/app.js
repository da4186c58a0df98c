// The dashboard: a hash router over the pages; the header polls /_mock/stats (company, clock, counters).
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { html, get, usePoll, time } from "./lib.js";
import { Overview } from "./pages/overview.js";
import { Stock } from "./pages/stock.js";
import { Orders } from "./pages/orders.js";
import { Webhooks } from "./pages/webhooks.js";
import { Journal } from "./pages/journal.js";
import { Storms } from "./pages/storms.js";
import { Faults } from "./pages/faults.js";

const PAGES = [
  ["overview", "Overview", Overview],
  ["stock", "Stock", Stock],
  ["orders", "Orders", Orders],
  ["webhooks", "Webhooks", Webhooks],
  ["journal", "Journal", Journal],
  ["storms", "Storms", Storms],
  ["faults", "Faults & quirks", Faults],
];

function route() {
  const [page, ...rest] = (location.hash.replace(/^#\/?/, "") || "overview").split("/");
  return { page, arg: rest.map(decodeURIComponent).join("/") || null };
}

function App() {
  const [where, setWhere] = useState(route());
  useEffect(() => {
    const on = () => setWhere(route());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const [stats, error] = usePoll(() => get("/stats"), 1000);
  const entry = PAGES.find(([id]) => id === where.page) || PAGES[0];
  const Page = entry[2];
  useEffect(() => { document.title = `${entry[1]} - mock-xtnd`; }, [entry[1]]);
  return html`
    <header class="top">
      <span class="brand">mock-xtnd</span>
      <span class="muted" data-testid="company">${stats ? `${stats.company} · ${stats.apiBase}` : ""}</span>
      <nav>${PAGES.map(([id, label]) => html`<a href=${"#/" + id} class=${id === entry[0] ? "active" : ""}>${label}</a>`)}</nav>
      <span class="clock" data-testid="clock">${error ? html`<span class="bad">fake unreachable</span>`
        : stats ? `${time(stats.clock.now)} (${stats.clock.kind} clock)` : ""}</span>
    </header>
    <main><${Page} arg=${where.arg} stats=${stats} /></main>`;
}

const root = document.getElementById("app");
root.textContent = "";
render(html`<${App} />`, root);
