/* Charts shared by the dashboard and the self-contained HTML reports (storm report, verdict): thin helpers over
   uPlot (a global from vendor/uPlot.iife.min.js). A classic script, not a module, so a report can inline it next to
   uPlot and open from a file with no server. window.XtndCharts = {line, histogram, storm}. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#16a34a", "#dc2626", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
                 "#4b5563", "#65a30d", "#7c3aed", "#0d9488"];

  function width(el) { return Math.max(320, (el.clientWidth || 800) - 4); }

  function fmt(v, digits) {
    if (v == null || isNaN(v)) return "-";
    return Number(v).toLocaleString("en-US", {maximumFractionDigits: digits == null ? 1 : digits});
  }

  /* Shaded windows on the plot area: bands = [{from, to, label, color}] in x units. */
  function bandsPlugin(getBands) {
    return {hooks: {drawClear: [function (u) {
      var bands = getBands() || [];
      var ctx = u.ctx, top = u.bbox.top, h = u.bbox.height;
      ctx.save();
      bands.forEach(function (b) {
        var x0 = u.valToPos(b.from, "x", true), x1 = u.valToPos(b.to, "x", true);
        ctx.fillStyle = b.color || "rgba(234, 88, 12, 0.15)";
        ctx.fillRect(x0, top, Math.max(2, x1 - x0), h);
      });
      ctx.restore();
    }]}};
  }

  /* Markers as DOM elements on the plot's overlay (so a person can hover and follow them, and a test can find
     them): markers = [{x, label, href, cls, data: {k: v}}]. */
  function markersPlugin(getMarkers) {
    var layer = null;
    function place(u) {
      if (!layer) return;
      layer.innerHTML = "";
      (getMarkers() || []).forEach(function (m) {
        var a = document.createElement(m.href ? "a" : "div");
        a.className = "xc-marker " + (m.cls || "");
        if (m.href) a.href = m.href;
        a.title = m.label || "";
        a.style.left = u.valToPos(m.x, "x") + "px";
        Object.keys(m.data || {}).forEach(function (k) { a.dataset[k] = m.data[k]; });
        var flag = document.createElement("span");
        flag.textContent = m.short || "!";
        a.appendChild(flag);
        layer.appendChild(a);
      });
    }
    return {hooks: {
      ready: [function (u) { layer = document.createElement("div"); layer.className = "xc-markers"; u.over.appendChild(layer); place(u); }],
      setSize: [place], setScale: [function (u, key) { if (key === "x") place(u); }],
    }};
  }

  /* A line chart. opts: {title, x: [...], xTime: bool, series: [{label, values, color, width, dash, scale}],
     yLabel, y2Label, height, bands, markers, stepped, utc}. Returns {plot, setData(x, seriesValues), setBands, setMarkers}. */
  function line(el, opts) {
    var bands = opts.bands || [], markers = opts.markers || [];
    var scales = {x: {time: !!opts.xTime}};
    var axes = [{label: opts.xLabel || (opts.xTime ? "" : "seconds"), stroke: "#555", grid: {stroke: "#eee"}},
                {label: opts.yLabel || "", stroke: "#555", grid: {stroke: "#eee"}, size: 60}];
    var useY2 = opts.series.some(function (s) { return s.scale === "y2"; });
    if (useY2) {
      scales.y2 = {};
      axes.push({scale: "y2", side: 1, label: opts.y2Label || "", stroke: "#555", grid: {show: false}, size: 60});
    }
    var series = [{label: opts.xTime ? "time" : "second"}].concat(opts.series.map(function (s, i) {
      var out = {label: s.label, stroke: s.color || PALETTE[i % PALETTE.length], width: s.width || 1.5,
                 scale: s.scale || "y", spanGaps: false,
                 value: function (u, v) { return fmt(v, s.digits); }};
      if (s.dash) out.dash = s.dash;
      if (s.fill) out.fill = s.fill;
      if (opts.stepped) out.paths = uPlot.paths.stepped({align: 1});
      return out;
    }));
    var data = [opts.x].concat(opts.series.map(function (s) { return s.values; }));
    var config = {
      title: opts.title, width: width(el), height: opts.height || 240, scales: scales, axes: axes, series: series,
      legend: {live: true}, cursor: {drag: {x: true, y: false}},
      plugins: [bandsPlugin(function () { return bands; }), markersPlugin(function () { return markers; })],
    };
    // evidence lines print UTC clock times: a report's time axis says the same
    if (opts.utc) config.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"); };
    var plot = new uPlot(config, data, el);
    watchWidth(el, plot);
    return {
      plot: plot,
      setData: function (x, values) { plot.setData([x].concat(values)); },
      setBands: function (b) { bands = b; plot.redraw(); },
      setMarkers: function (m) { markers = m; plot.redraw(); },
    };
  }

  /* Bars over log-spaced bins: edges (n + 1) and counts (n). x is plotted on a log scale at each bin's middle. */
  function histogram(el, opts) {
    function mids(edges) {
      var out = [];
      for (var i = 0; i + 1 < edges.length; i++) out.push(Math.sqrt(edges[i] * edges[i + 1]));
      return out;
    }
    var data = [mids(opts.edges), opts.counts];
    if (!data[0].length) data = [[1], [0]];
    var plot = new uPlot({
      title: opts.title, width: width(el), height: opts.height || 220,
      scales: {x: {time: false, distr: 3}},
      axes: [{label: opts.xLabel || "ms", stroke: "#555", grid: {stroke: "#eee"}},
             {label: opts.yLabel || "count", stroke: "#555", grid: {stroke: "#eee"}, size: 60}],
      series: [{label: opts.xLabel || "ms", value: function (u, v) { return fmt(v, 2); }},
               {label: opts.label || "deliveries", stroke: opts.color || PALETTE[0], fill: (opts.color || PALETTE[0]) + "55",
                paths: uPlot.paths.bars({size: [0.9, 40]}), points: {show: false}}],
      legend: {live: true},
    }, data, el);
    watchWidth(el, plot);
    return {plot: plot, setData: function (edges, counts) {
      var m = mids(edges);
      plot.setData(m.length ? [m, counts] : [[1], [0]]);
    }};
  }

  function watchWidth(el, plot) {
    if (typeof ResizeObserver === "undefined") return;
    var last = width(el);
    new ResizeObserver(function () {
      var w = width(el);
      if (Math.abs(w - last) > 8) { last = w; plot.setSize({width: w, height: plot.height}); }
    }).observe(el);
  }

  function percentileTable(p) {
    var rows = [["p50", p.p50], ["p90", p.p90], ["p99", p.p99], ["p99.9", p.p999], ["max", p.max]];
    return "<table class=\"xc-pct\"><tr>" + rows.map(function (r) { return "<th>" + r[0] + "</th>"; }).join("") +
      "</tr><tr>" + rows.map(function (r) { return "<td>" + fmt(r[1], 2) + " ms</td>"; }).join("") + "</tr></table>";
  }

  /* The storm plots (dashboard storm page and storm report) from GET /_mock/storm/{id}/series:
     emitted vs delivered per second, delivery latency per second, the latency histogram with percentiles, and the
     lag of clients' reads when the journal shows any. Returns {update(data)}. */
  function storm(el, data) {
    el.innerHTML = "";
    function box(cls) { var d = document.createElement("div"); d.className = "xc-box " + cls; el.appendChild(d); return d; }
    var rateBox = box("xc-rate"), latBox = box("xc-latency"), pctBox = box("xc-pct-box"), histBox = box("xc-hist"),
        lagBox = box("xc-lag");
    var s = data.series;
    var rate = line(rateBox, {title: "Steps emitted vs hooks delivered per second", x: s.seconds, yLabel: "per second",
      xLabel: "seconds after the start", stepped: true,
      series: [{label: "emitted", values: s.emitted, color: "#93c5fd", width: 4},
               {label: "delivered", values: s.delivered, color: PALETTE[1], width: 1.5}]});
    var lat = line(latBox, {title: "Delivery latency per second (creation to answer)", x: s.seconds,
      yLabel: "ms", xLabel: "seconds after the start",
      series: [{label: "p50", values: s.p50LatencyMs, color: PALETTE[0], digits: 2},
               {label: "p99", values: s.p99LatencyMs, color: PALETTE[2], digits: 2}]});
    var hist = histogram(histBox, {title: "Delivery latency histogram", edges: data.latency.histogram.edgesMs,
      counts: data.latency.histogram.counts, xLabel: "ms (log)", label: "deliveries"});
    var lagChart = null;
    function drawLag(d) {
      var lag = d.lag;
      if (!lag || !lag.measured) {
        lagBox.innerHTML = "<p class=\"xc-note\">Lag of the client's view: not measured" +
          (lag && lag.unread ? " (" + fmt(lag.unread, 0) + " changes not yet read by any client)" :
           " (no client read ProductAvailability after a storm hook)") + ".</p>";
        lagChart = null;
        return;
      }
      var sec = d.series.seconds.slice(0, lag.perSecondP50Ms.length);
      if (!lagChart) {
        lagBox.innerHTML = "";
        var note = document.createElement("p");
        note.className = "xc-note xc-lag-note";
        lagBox.appendChild(note);
        var chartEl = document.createElement("div");
        lagBox.appendChild(chartEl);
        lagChart = line(chartEl, {title: "Lag of the client's view (change to first covering read), by the change's second",
          x: sec, yLabel: "ms", xLabel: "seconds after the start",
          series: [{label: "p50", values: lag.perSecondP50Ms, color: PALETTE[3]},
                   {label: "max", values: lag.perSecondMaxMs, color: PALETTE[4]}]});
      } else {
        lagChart.setData(sec, [lag.perSecondP50Ms, lag.perSecondMaxMs]);
      }
      lagBox.querySelector(".xc-lag-note").textContent = "Lag of the client's view: " + fmt(lag.measured, 0) +
        " changes read, p50 " + fmt(lag.p50Ms, 1) + " ms, p99 " + fmt(lag.p99Ms, 1) + " ms, max " +
        fmt(lag.maxMs, 1) + " ms; " + fmt(lag.unread, 0) + " not (yet) read; readers: " + (lag.users.join(", ") || "-");
    }
    function update(d) {
      var t = d.series;
      rate.setData(t.seconds, [t.emitted, t.delivered]);
      lat.setData(t.seconds, [t.p50LatencyMs, t.p99LatencyMs]);
      hist.setData(d.latency.histogram.edgesMs, d.latency.histogram.counts);
      pctBox.innerHTML = "<h4>Delivery latency percentiles</h4>" + percentileTable(d.latency.percentiles);
      drawLag(d);
      el.dataset.seconds = String(t.seconds.length);
      el.dataset.emitted = String(t.emitted.reduce(function (a, b) { return a + b; }, 0));
      el.dataset.delivered = String(t.delivered.reduce(function (a, b) { return a + b; }, 0));
    }
    update(data);
    return {update: update};
  }

  window.XtndCharts = {line: line, histogram: histogram, storm: storm, fmt: fmt, palette: PALETTE};
})();
