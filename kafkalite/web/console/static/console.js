/* The kafkalite web console: a hash-routed single page over the broker's /api/ JSON.
 *
 * Every value from the cluster is put in the page with textContent (never innerHTML), so a
 * topic name, a header or a record value cannot inject markup. Each page may refresh itself
 * on a timer; timers belong to the page that started them and stop when the hash changes.
 * API errors are shown in the page rather than thrown, so the browser console stays clean.
 */
"use strict";

(function () {
  const C = window.KChart;
  const main = document.getElementById("main");
  let generation = 0;       // bumped on every navigation; stale timers and fetches check it
  let session = null;       // {broker_id, read_only, secured, user} from the last API answer

  // --- small DOM helpers ---------------------------------------------------------------------

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "value") el.value = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  const dash = "–";
  const num = (v) => (v === null || v === undefined ? dash : Number(v).toLocaleString("en-US"));
  const size = (v) => (v === null || v === undefined ? dash : C.bytes(v));
  const rate = (v) => (v === null || v === undefined ? dash : C.compact(v) + "/s");
  const enc = encodeURIComponent;

  function stamp(ms) {
    if (ms === null || ms === undefined || ms < 0) return dash;
    const d = new Date(ms);
    const p = (n, w = 2) => String(n).padStart(w, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
  }

  function badge(text, kind) { return h("span", { class: `badge ${kind || ""}`, text }); }

  function stateBadge(state) {
    const kind = { Stable: "ok", Empty: "muted", Dead: "bad", PreparingRebalance: "warn",
                   CompletingRebalance: "warn" }[state] || "muted";
    return badge(state || "unknown", kind);
  }

  function table(headers, rows, attrs) {
    return h("div", { class: "table-wrap" },
      h("table", attrs || {},
        h("thead", {}, h("tr", {}, headers.map((c) =>
          typeof c === "string" ? h("th", { text: c }) : h("th", c)))),
        h("tbody", {}, rows.length ? rows :
          h("tr", {}, h("td", { colspan: headers.length, class: "empty", text: "nothing here" })))));
  }

  function card(label, value, kind) {
    return h("div", { class: `card ${kind || ""}` },
      h("div", { class: "card-label", text: label }), h("div", { class: "card-value" }, value));
  }

  function notice(text, kind) { return h("div", { class: `notice ${kind || "error"}`, role: "alert", text }); }

  // --- API -----------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers = Object.assign({ Accept: "application/json" }, opts.headers);
    opts.credentials = "same-origin";
    if (opts.json !== undefined) {
      opts.method = opts.method || "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    let response;
    try {
      response = await fetch(path, opts);
    } catch (e) {
      throw new ApiError(0, "the console is unreachable (is the broker running?)");
    }
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const msg = body && body.error ? body.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, body && body.kafka_error ? `${msg} (${body.kafka_error})` : msg);
    }
    if (body && body.session) setSession(body.session);
    return body;
  }

  function setSession(s) {
    session = s;
    const el = document.getElementById("session");
    el.replaceChildren(...[
      s.user ? h("span", { class: "who", text: `signed in as ${s.user}` }) : null,
      badge(s.read_only ? "read-only" : "read-write", s.read_only ? "muted" : "warn"),
      h("span", { class: "via", text: `served by broker ${s.broker_id}` })].filter(Boolean));
  }

  const writable = () => session && !session.read_only;

  // --- page plumbing -------------------------------------------------------------------------

  /* Run fn now and then every ms while this page is shown; fn gets a "still current" check. */
  function every(ms, fn) {
    const mine = generation;
    const tick = async () => {
      if (mine !== generation) return;
      try { await fn(() => mine === generation); } catch (e) { /* fn shows its own errors */ }
      if (mine === generation) setTimeout(tick, ms);
    };
    tick();
  }

  function page(title, ...content) {
    document.title = `${title} · kafkalite console`;
    main.replaceChildren(h("h1", { text: title }), ...content);
  }

  /* A region of the page that is re-rendered from one API call (and shows its errors). */
  function region(cls) { return h("div", { class: `region ${cls || ""}` }, h("p", { class: "loading", text: "Loading…" })); }

  async function fill(el, current, path, render) {
    try {
      const data = await api(path);
      if (current()) el.replaceChildren(...[].concat(render(data)));
    } catch (e) {
      if (current()) el.replaceChildren(notice(e.message));
    }
  }

  // --- overview ------------------------------------------------------------------------------

  function overview() {
    const body = region("overview");
    page("Cluster overview", body);
    every(10000, (current) => fill(body, current, "/api/overview", (d) => {
      const cards = h("div", { class: "cards" },
        card("Brokers", num(d.brokers.length)),
        card("Controller", d.controller >= 0 ? `broker ${d.controller}` : "none", d.controller >= 0 ? "" : "bad"),
        card("Topics", num(d.topics)),
        card("Partitions", num(d.partitions)),
        card("Under-replicated", num(d.under_replicated), d.under_replicated ? "warn" : "ok"),
        card("Offline", num(d.offline), d.offline ? "bad" : "ok"));
      const facts = h("dl", { class: "facts" },
        h("dt", { text: "Cluster id" }), h("dd", { class: "mono", text: d.cluster_id || dash }),
        h("dt", { text: "ZooKeeper" }), h("dd", { class: "mono", text: d.zookeeper_connect }),
        h("dt", { text: "Internal topics" }), h("dd", { text: num(d.internal_topics) }),
        h("dt", { text: "Versions" }), h("dd", {},
          Object.entries(d.versions).filter(([, v]) => v).map(([k, v]) => badge(`${k} ${v}`, "muted"))));
      const rows = d.brokers.map((b) => h("tr", { "data-broker": b.id },
        h("td", { class: "num", text: b.id }),
        h("td", { class: "mono", text: `${b.host}:${b.port}` }),
        h("td", { text: b.rack || dash }),
        h("td", {}, b.controller ? badge("controller", "ok") : ""),
        h("td", { class: "num", text: num(b.leaders) }),
        h("td", { class: "num", text: num(b.replicas) }),
        h("td", {}, b.metrics_url ? h("a", { href: b.metrics_url, text: "metrics", target: "_blank", rel: "noopener" })
                                  : h("span", { class: "muted", text: dash }))));
      return [cards, facts, h("h2", { text: "Brokers" }),
              table(["Id", "Address", "Rack", "Role", { text: "Leaders", class: "num" },
                     { text: "Replicas", class: "num" }, "Metrics"], rows, { id: "brokers-table" })];
    }));
  }

  // --- topics --------------------------------------------------------------------------------

  function createTopicForm(onDone) {
    const status = h("div", { class: "form-status" });
    const name = h("input", { name: "name", required: true, placeholder: "orders", pattern: "[a-zA-Z0-9._\\-]+", maxlength: 249 });
    const parts = h("input", { name: "partitions", type: "number", min: 1, placeholder: "broker default" });
    const rf = h("input", { name: "replication_factor", type: "number", min: 1, placeholder: "broker default" });
    const configs = h("textarea", { name: "configs", rows: 2, placeholder: "retention.ms=86400000\ncleanup.policy=compact" });
    const form = h("form", { class: "panel form", id: "create-topic",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const cfg = {};
        for (const line of configs.value.split("\n")) {
          const t = line.trim();
          if (!t) continue;
          const i = t.indexOf("=");
          if (i < 1) { status.replaceChildren(notice(`not key=value: ${t}`)); return; }
          cfg[t.slice(0, i).trim()] = t.slice(i + 1).trim();
        }
        const body = { name: name.value.trim(), configs: cfg };
        if (parts.value) body.partitions = Number(parts.value);
        if (rf.value) body.replication_factor = Number(rf.value);
        status.replaceChildren(h("span", { class: "muted", text: "Creating…" }));
        try {
          await api("/api/topics", { json: body });
          status.replaceChildren(notice(`Created topic ${body.name}.`, "ok"));
          form.reset();
          onDone();
        } catch (e) { status.replaceChildren(notice(e.message)); }
      } },
      h("h2", { text: "Create a topic" }),
      h("div", { class: "fields" },
        h("label", {}, "Name", name), h("label", {}, "Partitions", parts),
        h("label", {}, "Replication factor", rf), h("label", { class: "wide" }, "Configs (key=value per line)", configs)),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", text: "Create topic" })),
      status);
    return form;
  }

  function topics() {
    const body = region("topics");
    const filter = h("input", { type: "search", placeholder: "Filter topics", class: "filter", id: "topic-filter" });
    const internal = h("input", { type: "checkbox", id: "show-internal" });
    let last = null;
    const draw = () => {
      if (!last) return;
      const q = filter.value.trim().toLowerCase();
      const shown = last.topics.filter((t) => (internal.checked || !t.internal) && t.name.toLowerCase().includes(q));
      const rows = shown.map((t) => h("tr", { "data-topic": t.name },
        h("td", {}, h("a", { href: `#/topics/${enc(t.name)}`, text: t.name }), t.internal ? badge("internal", "muted") : null),
        h("td", { class: "num partitions", text: num(t.partitions) }),
        h("td", { class: "num", text: num(t.replication_factor) }),
        h("td", { class: "num" }, t.under_replicated ? badge(num(t.under_replicated), "warn") : "0"),
        h("td", { class: "num" }, t.offline ? badge(num(t.offline), "bad") : "0"),
        h("td", { class: "num messages", text: num(t.messages) }),
        h("td", { class: "num size", "data-bytes": t.size, text: size(t.size) }),
        h("td", { class: "num", text: rate(t.rate) }),
        h("td", { class: "spark" }, C.sparkline(t.sparkline))));
      body.replaceChildren(table(["Topic", { text: "Partitions", class: "num" }, { text: "Replicas", class: "num" },
        { text: "Under-replicated", class: "num" }, { text: "Offline", class: "num" }, { text: "Messages", class: "num" },
        { text: "Size", class: "num" }, { text: "Rate", class: "num" }, "Last 10 min"], rows, { id: "topics-table" }),
        h("p", { class: "hint", text: `${shown.length} of ${last.topics.length} topics. Messages = log end − log start offset; size = leader replicas on disk.` }));
    };
    filter.addEventListener("input", draw);
    internal.addEventListener("change", draw);
    const refresh = async (current) => {
      try {
        last = await api("/api/topics");
        if (current()) draw();
      } catch (e) { if (current()) body.replaceChildren(notice(e.message)); }
    };
    const mine = generation;
    const toolbar = h("div", { class: "toolbar" }, filter, h("label", { class: "check" }, internal, "show internal topics"));
    page("Topics", toolbar, body);
    every(10000, refresh);
    // The create form appears once we know whether this console may write.
    const addForm = () => {
      if (mine !== generation) return;
      if (session === null) { setTimeout(addForm, 200); return; }
      if (writable()) main.appendChild(createTopicForm(() => refresh(() => mine === generation)));
    };
    addForm();
  }

  function topic(name) {
    const body = region("topic");
    const formSlot = h("div");
    page(`Topic ${name}`, h("div", { class: "toolbar" },
      h("a", { class: "button", href: `#/topics/${enc(name)}/messages`, text: "Browse messages" }),
      h("a", { class: "button subtle", href: "#/topics", text: "All topics" })), formSlot, body);
    const refresh = (current) => fill(body, current, `/api/topics/${enc(name)}`, (d) => {
      const canWrite = writable();
      const rows = d.partitions.map((p) => h("tr", { "data-partition": p.partition },
        h("td", { class: "num", text: p.partition }),
        h("td", { class: "num" }, p.leader === null ? badge("offline", "bad") : String(p.leader)),
        h("td", { class: "mono", text: p.replicas.join(", ") }),
        h("td", { class: "mono" }, p.under_replicated ? badge(p.isr.join(", ") || "none", "warn") : p.isr.join(", ")),
        h("td", { class: "num", text: num(p.log_start) }),
        h("td", { class: "num", text: num(p.log_end) }),
        h("td", { class: "num", text: num(p.messages) }),
        h("td", { class: "num", text: size(p.size) }),
        h("td", {}, h("a", { href: `#/topics/${enc(name)}/messages?partition=${p.partition}`, text: "browse" }),
          canWrite ? h("button", { class: "link danger", text: "delete records…",
            onclick: () => formSlot.replaceChildren(deleteRecordsForm(name, p, formSlot, () => refresh(() => true))) }) : null)));
      const totalMessages = d.partitions.reduce((a, p) => (a === null || p.messages === null ? null : a + p.messages), 0);
      const totalSize = d.partitions.reduce((a, p) => (a === null || p.size === null ? null : a + p.size), 0);
      const showDefaults = h("input", { type: "checkbox", id: "show-defaults" });
      const configBody = h("tbody");
      const drawConfigs = () => configBody.replaceChildren(...d.configs
        .filter((c) => showDefaults.checked || c.source !== "default")
        .map((c) => h("tr", {}, h("td", { class: "mono", text: c.name }), h("td", { class: "mono", text: c.value === null ? "null" : c.value }),
                      h("td", {}, badge(c.source, c.source === "topic" ? "ok" : "muted")))));
      showDefaults.addEventListener("change", drawConfigs);
      drawConfigs();
      if (!configBody.childNodes.length && !showDefaults.checked) {
        configBody.appendChild(h("tr", {}, h("td", { colspan: 3, class: "empty", text: "no overrides: every value is the broker's default" })));
      }
      return [
        h("div", { class: "cards" },
          card("Partitions", num(d.partitions.length)),
          card("Messages", num(totalMessages)),
          card("Size", size(totalSize)),
          card("Under-replicated", num(d.partitions.filter((p) => p.under_replicated).length),
               d.partitions.some((p) => p.under_replicated) ? "warn" : "ok")),
        h("div", { class: "panel" }, h("h2", { text: "Messages in per second" }),
          C.lineChart([{ name: "messages/s", points: d.rate_series }], { width: 1160, height: 200, intervalMs: 5000 })),
        h("h2", { text: "Partitions" }),
        table([{ text: "Partition", class: "num" }, { text: "Leader", class: "num" }, "Replicas", "ISR",
               { text: "Log start", class: "num" }, { text: "Log end", class: "num" }, { text: "Messages", class: "num" },
               { text: "Size", class: "num" }, ""], rows, { id: "partitions-table" }),
        h("h2", {}, "Configs ", h("label", { class: "check small" }, showDefaults, "show defaults")),
        h("div", { class: "table-wrap" }, h("table", { id: "configs-table" },
          h("thead", {}, h("tr", {}, h("th", { text: "Name" }), h("th", { text: "Value" }), h("th", { text: "Source" }))),
          configBody))];
    });
    every(10000, refresh);
  }

  function deleteRecordsForm(topicName, p, slot, after) {
    const offset = h("input", { id: "delete-offset", name: "offset", type: "number", min: -1, required: true,
                                value: p.log_end === null ? "" : String(p.log_end) });
    const status = h("div", { class: "form-status" });
    return h("form", { class: "panel form", id: "delete-records", onsubmit: async (ev) => {
        ev.preventDefault();
        status.replaceChildren(h("span", { class: "muted", text: "Deleting…" }));
        try {
          const r = await api(`/api/topics/${enc(topicName)}/delete-records`,
                              { json: { partition: p.partition, offset: Number(offset.value) } });
          status.replaceChildren(notice(`Partition ${p.partition} now starts at offset ${r.low_watermark}.`, "ok"));
          after();
        } catch (e) { status.replaceChildren(notice(e.message)); }
      } },
      h("h2", { text: `Delete records of partition ${p.partition}` }),
      h("p", { class: "hint", text: `Records below the offset are deleted for good (log start ${num(p.log_start)}, ` +
                                    `log end ${num(p.log_end)}; -1 = everything up to the high watermark).` }),
      h("div", { class: "fields" }, h("label", {}, "Delete below offset", offset)),
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "primary danger", text: "Delete records" }), " ",
        h("button", { type: "button", text: "Cancel", onclick: () => slot.replaceChildren() })),
      status);
  }

  // --- message browser -------------------------------------------------------------------------

  function parseQuery(q) {
    const out = {};
    new URLSearchParams(q || "").forEach((v, k) => { out[k] = v; });
    return out;
  }

  function renderedValue(r) {
    if (!r || r.format === "null") return h("span", { class: "null", text: "null" });
    const pre = h("pre", { class: `payload fmt-${r.format}`, text: r.text });
    const notes = [];
    if (r.note) notes.push(r.note);
    if (r.lossy) notes.push("not valid UTF-8: shown with replacement characters, use hex for the exact bytes");
    if (r.truncated) notes.push(`only the first ${C.bytes(16384)} of ${C.bytes(r.size)} shown`);
    return h("div", {}, pre, notes.length ? h("div", { class: "payload-note", text: notes.join("; ") }) : null);
  }

  function messages(name, query) {
    const q = parseQuery(query);
    const partition = h("select", { id: "msg-partition" });
    const mode = h("select", { id: "msg-mode" },
      h("option", { value: "latest", text: "latest messages" }),
      h("option", { value: "offset", text: "from offset" }),
      h("option", { value: "timestamp", text: "from time" }));
    const offset = h("input", { id: "msg-offset", type: "number", min: 0, placeholder: "offset" });
    const when = h("input", { id: "msg-time", type: "datetime-local", step: 1 });
    const limit = h("input", { id: "msg-limit", type: "number", min: 1, max: 500, value: q.limit || 50 });
    const format = h("select", { id: "msg-format" }, ["auto", "text", "json", "hex"].map((f) => h("option", { value: f, text: f })));
    const results = h("div", { class: "region" });
    format.value = q.format || "auto";
    if (q.offset !== undefined) { mode.value = "offset"; offset.value = q.offset; }
    else if (q.timestamp !== undefined) {
      mode.value = "timestamp";
      const d = new Date(Number(q.timestamp));
      when.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    }
    const syncInputs = () => {
      offset.hidden = mode.value !== "offset";
      when.hidden = mode.value !== "timestamp";
    };
    mode.addEventListener("change", syncInputs);
    syncInputs();

    const go = (extra) => {
      const params = new URLSearchParams();
      params.set("partition", partition.value || "0");
      if (mode.value === "offset" && offset.value !== "") params.set("offset", offset.value);
      if (mode.value === "timestamp" && when.value) params.set("timestamp", String(new Date(when.value).getTime()));
      params.set("limit", limit.value || "50");
      params.set("format", format.value);
      for (const [k, v] of Object.entries(extra || {})) { params.delete("timestamp"); params.set(k, v); }
      location.hash = `#/topics/${enc(name)}/messages?${params.toString()}`;
    };
    const form = h("form", { class: "panel toolbar browser", onsubmit: (ev) => { ev.preventDefault(); go(); } },
      h("label", {}, "Partition", partition), h("label", {}, "Start", mode), offset, when,
      h("label", {}, "Limit", limit), h("label", {}, "Show as", format),
      h("button", { type: "submit", class: "primary", text: "Load" }));
    format.addEventListener("change", () => go());
    page(`Messages of ${name}`, h("div", { class: "toolbar" },
      h("a", { class: "button subtle", href: `#/topics/${enc(name)}`, text: `Topic ${name}` })), form, results);

    const current = ((mine) => () => mine === generation)(generation);
    (async () => {
      try {
        const t = await api(`/api/topics/${enc(name)}`);
        if (!current()) return;
        partition.replaceChildren(...t.partitions.map((p) => h("option", { value: p.partition, text: `${p.partition} (${num(p.log_start)}…${num(p.log_end)})` })));
        partition.value = q.partition || "0";
        const params = new URLSearchParams({ partition: partition.value, limit: limit.value, format: format.value });
        if (q.offset !== undefined) params.set("offset", q.offset);
        if (q.timestamp !== undefined) params.set("timestamp", q.timestamp);
        const d = await api(`/api/topics/${enc(name)}/messages?${params.toString()}`);
        if (!current()) return;
        const rows = d.messages.map((m) => h("tr", { "data-offset": m.offset },
          h("td", { class: "num offset", text: m.offset }),
          h("td", { class: "mono nowrap", title: m.timestamp_type, text: stamp(m.timestamp) }),
          h("td", { class: "key" }, renderedValue(m.key)),
          h("td", { class: "value" }, renderedValue(m.value)),
          h("td", { class: "headers" }, m.headers.length ? h("dl", { class: "headers-list" },
            m.headers.flatMap((x) => [h("dt", { text: x.key }), h("dd", {}, renderedValue(x.value))])) : h("span", { class: "muted", text: dash }))));
        const lim = Number(limit.value) || 50;
        const prev = Math.max(d.log_start, d.first - lim);
        const next = d.messages.length ? d.messages[d.messages.length - 1].offset + 1 : d.first;
        results.replaceChildren(
          h("div", { class: "toolbar pager" },
            h("span", { class: "muted", text: `partition ${d.partition}: offsets ${num(d.log_start)}…${num(d.log_end)}; showing ${d.messages.length} from ${num(d.first)}` }),
            h("button", { type: "button", disabled: d.first <= d.log_start, text: "← older", onclick: () => { mode.value = "offset"; go({ offset: prev }); } }),
            h("button", { type: "button", disabled: next >= d.log_end, text: "newer →", onclick: () => { mode.value = "offset"; go({ offset: next }); } })),
          table([{ text: "Offset", class: "num" }, "Timestamp", "Key", "Value", "Headers"], rows, { id: "messages-table" }));
      } catch (e) {
        if (current()) results.replaceChildren(notice(e.message));
      }
    })();
  }

  // --- consumer groups -------------------------------------------------------------------------

  function groups() {
    const body = region("groups");
    page("Consumer groups", body);
    every(10000, (current) => fill(body, current, "/api/groups", (d) => {
      const rows = d.groups.map((g) => h("tr", { "data-group": g.group },
        h("td", {}, h("a", { href: `#/groups/${enc(g.group)}`, text: g.group })),
        h("td", {}, stateBadge(g.state)),
        h("td", { class: "num", text: num(g.members) }),
        h("td", { text: g.error ? g.error : (g.topics || []).join(", ") || dash }),
        h("td", { class: "num", text: num(g.partitions) }),
        h("td", { class: "num lag" }, g.lag ? badge(num(g.lag), "warn") : num(g.lag))));
      return table(["Group", "State", { text: "Members", class: "num" }, "Topics", { text: "Partitions", class: "num" },
                    { text: "Lag", class: "num" }], rows, { id: "groups-table" });
    }));
  }

  function resetForm(groupId, offsets, after) {
    const topicsSeen = [...new Set(offsets.map((o) => o.topic))];
    const scope = h("select", { id: "reset-topic" }, h("option", { value: "", text: "all committed partitions" }),
      topicsSeen.map((t) => h("option", { value: t, text: `topic ${t}` })));
    const part = h("input", { id: "reset-partition", type: "number", min: 0, placeholder: "all partitions" });
    const to = h("select", { id: "reset-to" }, ["earliest", "latest", "offset", "timestamp"].map((v) => h("option", { value: v, text: v })));
    const value = h("input", { id: "reset-offset", type: "number", min: 0, placeholder: "offset", hidden: true });
    const when = h("input", { id: "reset-time", type: "datetime-local", step: 1, hidden: true });
    const status = h("div", { class: "form-status" });
    to.addEventListener("change", () => { value.hidden = to.value !== "offset"; when.hidden = to.value !== "timestamp"; });
    return h("form", { class: "panel form", id: "reset-offsets", onsubmit: async (ev) => {
        ev.preventDefault();
        const body = { to: to.value };
        if (scope.value) body.topic = scope.value;
        if (scope.value && part.value !== "") body.partition = Number(part.value);
        if (to.value === "offset") body.value = Number(value.value);
        if (to.value === "timestamp") body.value = new Date(when.value).getTime();
        status.replaceChildren(h("span", { class: "muted", text: "Resetting…" }));
        try {
          const r = await api(`/api/groups/${enc(groupId)}/reset`, { json: body });
          status.replaceChildren(notice(`Reset ${r.offsets.length} partition(s): ` +
            r.offsets.map((o) => `${o.topic}-${o.partition} → ${o.offset}`).join(", "), "ok"));
          after();
        } catch (e) { status.replaceChildren(notice(e.message)); }
      } },
      h("h2", { text: "Reset offsets" }),
      h("p", { class: "hint", text: "Only while the group has no members (state Empty). New offsets are kept between each partition's log start and log end." }),
      h("div", { class: "fields" }, h("label", {}, "Scope", scope), h("label", {}, "Partition", part),
        h("label", {}, "To", to), h("label", {}, "Value", value, when)),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary danger", text: "Reset offsets" })),
      status);
  }

  function group(groupId) {
    const body = region("group");
    const formSlot = h("div");
    page(`Consumer group ${groupId}`, h("div", { class: "toolbar" },
      h("a", { class: "button subtle", href: "#/groups", text: "All groups" })), body, formSlot);
    let formShown = false;
    const refresh = (current) => fill(body, current, `/api/groups/${enc(groupId)}`, (d) => {
      if (writable() && !formShown && ["Empty", "Dead"].includes(d.state) && d.offsets.length) {
        formShown = true;
        formSlot.replaceChildren(resetForm(groupId, d.offsets, () => refresh(() => true)));
      }
      const total = d.offsets.reduce((a, o) => (o.lag === null ? a : a + o.lag), 0);
      const members = d.members.map((m) => h("tr", {},
        h("td", { class: "mono", text: m.member_id }), h("td", { text: m.client_id }), h("td", { class: "mono", text: m.host }),
        h("td", { class: "mono", text: m.assignment.map(([t, p]) => `${t}-${p}`).join(", ") || dash })));
      const offsets = d.offsets.map((o) => h("tr", { "data-topic": o.topic, "data-partition": o.partition },
        h("td", { text: o.topic }), h("td", { class: "num", text: o.partition }),
        h("td", { class: "num committed", text: num(o.committed) }),
        h("td", { class: "num log-end", text: num(o.log_end) }),
        h("td", { class: "num lag" }, o.lag ? badge(num(o.lag), "warn") : num(o.lag)),
        h("td", { class: "mono", text: o.client_id ? `${o.client_id} (${o.host})` : dash })));
      return [
        h("div", { class: "cards" },
          card("State", stateBadge(d.state)),
          card("Members", num(d.members.length)),
          card("Total lag", num(total), total ? "warn" : "ok"),
          card("Coordinator", d.coordinator === null ? dash : `broker ${d.coordinator}`),
          card("Protocol", d.protocol || dash)),
        h("h2", { text: "Offsets" }),
        table(["Topic", { text: "Partition", class: "num" }, { text: "Committed", class: "num" }, { text: "Log end", class: "num" },
               { text: "Lag", class: "num" }, "Consumer"], offsets, { id: "offsets-table" }),
        h("h2", { text: "Members" }),
        table(["Member id", "Client id", "Host", "Assigned partitions"], members, { id: "members-table" })];
    });
    every(10000, refresh);
  }

  // --- broker charts -------------------------------------------------------------------------

  const latencyFmt = (v) => (v === 0 || v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2)) + " ms";

  function brokerCharts(b, windowMs, intervalMs) {
    const s = b.series || {};
    const pick = (pairs) => pairs.filter(([key]) => s[key]).map(([key, label]) => ({ name: label, points: s[key] }));
    const requests = ["Produce", "FetchConsumer", "FetchFollower"];
    const opts = { windowMs, intervalMs, height: 180 };
    const chart = (title, series, extra) => h("div", { class: "chart-box" }, h("h3", { text: title }),
      C.lineChart(series.length ? series : [], Object.assign({}, opts, extra || {})));
    const head = h("div", { class: "broker-head" }, h("h2", { text: `Broker ${b.id}` }),
      h("span", { class: "mono muted", text: b.metrics_url || b.host }));
    if (b.error) {
      return h("section", { class: "panel broker", "data-broker": b.id }, head, notice(b.error, b.error === "no metrics listener" ? "info" : "error"));
    }
    return h("section", { class: "panel broker", "data-broker": b.id }, head,
      h("div", { class: "chart-grid" },
        chart("Messages in /s", pick([["messages_in", "messages in"]])),
        chart("Bytes /s", pick([["bytes_in", "in"], ["bytes_out", "out"]]), { format: (v) => C.bytes(v), minMax: 1024 }),
        chart("Requests /s", pick(requests.map((r) => [`requests.${r}`, r]))),
        chart("Request latency p99", pick(requests.map((r) => [`p99.${r}`, r])), { format: latencyFmt })));
  }

  function brokers() {
    const body = region("brokers");
    page("Broker charts", h("p", { class: "hint", text: "Sampled from each broker's metrics endpoint every few seconds while the console is open; the last 10 minutes are kept in memory." }), body);
    every(5000, (current) => fill(body, current, "/api/metrics", (d) => {
      if (!d.brokers.length) return notice("no brokers answered yet", "info");
      return d.brokers.map((b) => brokerCharts(b, d.window_s * 1000, d.interval_s * 1000));
    }));
  }

  // --- routing -------------------------------------------------------------------------------

  const routes = [
    [/^#?\/?$/, () => overview()],
    [/^#\/topics\/?$/, () => topics()],
    [/^#\/topics\/([^/?]+)\/messages(?:\?(.*))?$/, (m) => messages(decodeURIComponent(m[1]), m[2])],
    [/^#\/topics\/([^/?]+)$/, (m) => topic(decodeURIComponent(m[1]))],
    [/^#\/groups\/?$/, () => groups()],
    [/^#\/groups\/(.+)$/, (m) => group(decodeURIComponent(m[1]))],
    [/^#\/brokers\/?$/, () => brokers()],
  ];

  function navigate() {
    generation++;
    const hash = location.hash || "#/";
    for (const a of document.querySelectorAll("#nav a")) {
      const target = a.getAttribute("href");
      a.classList.toggle("active", target === "#/" ? hash === "#/" || hash === "" : hash.startsWith(target));
    }
    for (const [re, fn] of routes) {
      const m = hash.match(re);
      if (m) { fn(m); window.scrollTo(0, 0); return; }
    }
    page("Not found", notice(`No page at ${hash}`, "info"));
  }

  window.addEventListener("hashchange", navigate);
  navigate();
})();
