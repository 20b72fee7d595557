/* Small SVG charts for the kafkalite console: a sparkline and a time-series line chart.
 *
 * No chart library: the console ships without a build step or a CDN, and two chart kinds do
 * not need one. Points are [timeMs, value] pairs; a gap in the data (a missed sample) is a gap
 * in the line, never an invented zero. Colours come from CSS classes (series-0 .. series-5),
 * so the page's stylesheet decides the palette.
 */
"use strict";

(function () {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs) {
    const el = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    return el;
  }

  /* 1234 -> "1.2k"; used for axis labels where space is short. */
  function compact(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(a >= 1e10 ? 0 : 1) + "G";
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e3) return (v / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
    if (a >= 10 || v === 0) return v.toFixed(0);
    return v.toFixed(a >= 1 ? 1 : 2);
  }

  function bytes(v) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let x = Math.abs(v);
    while (x >= 1024 && i < units.length - 1) { x /= 1024; i++; }
    return (v < 0 ? "-" : "") + (i === 0 ? x.toFixed(0) : x.toFixed(x >= 100 ? 0 : 1)) + " " + units[i];
  }

  /* A rounded-up axis maximum with 4 even steps (1, 2, 2.5, 5 × 10^n). */
  function niceMax(v, floor) {
    v = Math.max(v, floor || 1);
    const step = v / 4;
    const mag = Math.pow(10, Math.floor(Math.log10(step)));
    for (const m of [1, 2, 2.5, 5, 10]) {
      if (m * mag >= step) return m * mag * 4;
    }
    return v;
  }

  function clock(ms) {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    return p(d.getHours()) + ":" + p(d.getMinutes()) + ":" + p(d.getSeconds());
  }

  /* values: numbers, oldest first. Returns an <svg class="sparkline">. */
  function sparkline(values, opts) {
    const o = Object.assign({ width: 120, height: 28 }, opts || {});
    const el = svg("svg", { class: "sparkline", width: o.width, height: o.height,
                            viewBox: `0 0 ${o.width} ${o.height}`, role: "img" });
    const title = svg("title");
    el.appendChild(title);
    if (!values || values.length < 2) {
      title.textContent = "not enough samples yet";
      el.appendChild(svg("line", { x1: 0, y1: o.height - 1.5, x2: o.width, y2: o.height - 1.5,
                                   class: "spark-empty" }));
      return el;
    }
    const max = Math.max(...values, 0) || 1;
    const dx = o.width / (values.length - 1);
    const y = (v) => (o.height - 2) - (v / max) * (o.height - 4);
    const pts = values.map((v, i) => `${(i * dx).toFixed(1)},${y(v).toFixed(1)}`);
    el.appendChild(svg("polygon", { class: "spark-area",
                                    points: `0,${o.height} ${pts.join(" ")} ${o.width},${o.height}` }));
    el.appendChild(svg("polyline", { class: "spark-line", points: pts.join(" ") }));
    title.textContent = `last ${compact(values[values.length - 1])}/s, max ${compact(max)}/s`;
    return el;
  }

  /* series: [{name, points: [[tMs, v], ...]}]; opts: {width, height, format(v), windowMs,
   * intervalMs, minMax}. The x axis spans the samples there are (at least a minute, at most
   * windowMs), so a console opened a moment ago does not squeeze its first points into the
   * right edge of a ten-minute axis. Returns a <div class="chart"> with the SVG and a legend;
   * hovering shows the values at that time. */
  function lineChart(series, opts) {
    const o = Object.assign({ width: 560, height: 200, format: compact, windowMs: 600000,
                              minWindowMs: 60000, minMax: 1 }, opts || {});
    const pad = { left: 52, right: 12, top: 10, bottom: 24 };
    const W = o.width, H = o.height;
    const plotW = W - pad.left - pad.right, plotH = H - pad.top - pad.bottom;
    const wrap = document.createElement("div");
    wrap.className = "chart";
    const el = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img" });
    wrap.appendChild(el);

    const all = series.flatMap((s) => s.points);
    const now = all.length ? Math.max(...all.map((p) => p[0])) : Date.now();
    const first = all.length ? Math.min(...all.map((p) => p[0])) : now;
    const span = Math.min(o.windowMs, Math.max(o.minWindowMs, now - first));
    const t0 = now - span;
    const max = niceMax(Math.max(0, ...all.map((p) => p[1])), o.minMax);
    const x = (t) => pad.left + ((t - t0) / span) * plotW;
    const y = (v) => pad.top + plotH - (v / max) * plotH;

    for (let i = 0; i <= 4; i++) {
      const v = (max / 4) * i;
      el.appendChild(svg("line", { x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v),
                                   class: i === 0 ? "axis" : "grid" }));
      const label = svg("text", { x: pad.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" });
      label.textContent = o.format(v);
      el.appendChild(label);
    }
    for (let i = 0; i <= 4; i++) {
      const t = t0 + (span / 4) * i;
      const label = svg("text", { x: x(t), y: H - 6, class: "tick",
                                  "text-anchor": i === 0 ? "start" : i === 4 ? "end" : "middle" });
      label.textContent = clock(t);
      el.appendChild(label);
    }

    series.forEach((s, i) => {
      const cls = `series series-${i % 6}`;
      let run = [];
      const flush = () => {
        if (run.length === 1) {
          el.appendChild(svg("circle", { cx: run[0][0], cy: run[0][1], r: 2, class: cls + " dot" }));
        } else if (run.length > 1) {
          el.appendChild(svg("polyline", { class: cls, points: run.map((p) => p.join(",")).join(" ") }));
        }
        run = [];
      };
      let prev = null;
      for (const [t, v] of s.points) {
        if (t < t0) continue;
        // A jump of more than 2.5 sampling intervals is a gap (the broker did not answer).
        if (prev !== null && o.intervalMs && t - prev > o.intervalMs * 2.5) flush();
        run.push([x(t).toFixed(1), y(v).toFixed(1)]);
        prev = t;
      }
      flush();
    });

    if (!all.length) {
      const msg = svg("text", { x: pad.left + plotW / 2, y: pad.top + plotH / 2, class: "chart-empty",
                                "text-anchor": "middle" });
      msg.textContent = o.emptyText || "collecting samples…";
      el.appendChild(msg);
    }

    const legend = document.createElement("div");
    legend.className = "legend";
    const readouts = series.map((s, i) => {
      const item = document.createElement("span");
      item.className = "legend-item";
      const swatch = document.createElement("i");
      swatch.className = `swatch series-${i % 6}`;
      const name = document.createElement("span");
      name.textContent = s.name;
      const value = document.createElement("b");
      const last = s.points.length ? s.points[s.points.length - 1][1] : null;
      value.textContent = last === null ? "–" : o.format(last);
      item.append(swatch, name, value);
      legend.appendChild(item);
      return value;
    });
    wrap.appendChild(legend);

    // Hover: a cursor line and, in the legend, the values at that time.
    const cursor = svg("line", { y1: pad.top, y2: pad.top + plotH, class: "cursor", visibility: "hidden" });
    el.appendChild(cursor);
    el.addEventListener("mousemove", (ev) => {
      const box = el.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * W;
      const t = t0 + ((px - pad.left) / plotW) * span;
      cursor.setAttribute("x1", px);
      cursor.setAttribute("x2", px);
      cursor.setAttribute("visibility", px >= pad.left && px <= W - pad.right ? "visible" : "hidden");
      series.forEach((s, i) => {
        let best = null;
        for (const p of s.points) if (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
        readouts[i].textContent = best === null ? "–" : o.format(best[1]) + " @ " + clock(best[0]);
      });
    });
    el.addEventListener("mouseleave", () => {
      cursor.setAttribute("visibility", "hidden");
      series.forEach((s, i) => {
        const last = s.points.length ? s.points[s.points.length - 1][1] : null;
        readouts[i].textContent = last === null ? "–" : o.format(last);
      });
    });
    return wrap;
  }

  window.KChart = { sparkline, lineChart, compact, bytes, clock };
})();
