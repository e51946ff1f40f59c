// logbert dashboard: polls the public JSON endpoints (/v1/stats, /v1/scores, /v1/sessions,
// /v1/alerts) and draws with inline SVG. No build step, no external resources.
// Raw log lines are untrusted: everything is inserted with textContent, never innerHTML.
"use strict";

const params = new URLSearchParams(location.search);
const INTERVAL_MS = Number(params.get("interval") || 1000);
const SVG_NS = "http://www.w3.org/2000/svg";
const rateHistory = [];  // [time_ms, lines_per_s]
// the key is typed into the page and kept in localStorage, never read from the URL (browser history)
let apiKey = localStorage.getItem("logbert-api-key") || "";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

let sessionFilter = "";  // drill-down: the alerts of one session only

async function getJSON(path) {
  const headers = apiKey ? { "X-API-Key": apiKey } : {};
  const r = await fetch(path, { headers });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

async function postJSON(path, body) {
  const headers = { "Content-Type": "application/json", ...(apiKey ? { "X-API-Key": apiKey } : {}) };
  const r = await fetch(path, { method: "POST", headers, body: JSON.stringify(body || {}) });
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r.json();
}

// the alert filters: one session (drill-down), a time range (local time), a minimum score
function alertQuery() {
  const q = new URLSearchParams({ limit: "50" });
  if (sessionFilter) q.set("session_id", sessionFilter);
  const since = document.getElementById("since").value, until = document.getElementById("until").value;
  if (since) q.set("since", String(new Date(since).getTime() / 1000));
  if (until) q.set("until", String(new Date(until).getTime() / 1000));
  const minScore = document.getElementById("min-score").value;
  if (minScore !== "") q.set("min_score", minScore);
  return q.toString();
}

function drillDown(sessionId) {
  sessionFilter = sessionId;
  const link = document.getElementById("alert-filter");
  link.hidden = !sessionId;
  link.textContent = sessionId ? "session " + sessionId + " ✕" : "";
  tick(false);
}

function fmt(x, digits) {
  if (x === null || x === undefined) return "–";
  return Number(x).toLocaleString(undefined, { maximumFractionDigits: digits ?? 0 });
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

// Draw a series into an SVG with viewBox 600x160; returns nothing. points: [[x, y, flag], ...]
function plot(svg, points, opts) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  if (!points.length) return;
  const W = 600, H = 160, pad = 6;
  const xs = points.map(p => p[0]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs);
  let ymax = Math.max(...points.map(p => p[1]), opts.threshold ?? 0, 1e-9);
  ymax *= 1.1;
  const sx = x => pad + (x1 === x0 ? (W - 2 * pad) / 2 : (x - x0) / (x1 - x0) * (W - 2 * pad));
  const sy = y => H - pad - (y / ymax) * (H - 2 * pad);
  // axes: the value range on the left, the time range below (local time)
  svg.appendChild(svgEl("text", { x: 2, y: 12, class: "axis" })).textContent = fmt(ymax, 3) + (opts.unit || "");
  svg.appendChild(svgEl("text", { x: 2, y: H - 2, class: "axis" })).textContent = "0";
  const t = x => new Date(x).toLocaleTimeString();
  svg.appendChild(svgEl("text", { x: 40, y: H - 2, class: "axis" })).textContent = t(x0);
  svg.appendChild(svgEl("text", { x: W - 2, y: H - 2, class: "axis end" })).textContent = t(x1);
  if (opts.threshold !== undefined && opts.threshold !== null) {
    svg.appendChild(svgEl("line", { x1: 0, x2: W, y1: sy(opts.threshold), y2: sy(opts.threshold),
      stroke: "#888", "stroke-dasharray": "4 3", class: "threshold" }));
  }
  if (opts.line) {
    const d = points.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    svg.appendChild(svgEl("path", { d, fill: "none", stroke: "#2c7be5", "stroke-width": 2, class: "series" }));
  } else {
    for (const p of points) {
      svg.appendChild(svgEl("circle", { cx: sx(p[0]), cy: sy(p[1]), r: 3,
        fill: p[2] ? "#c0392b" : "#2c7be5", class: p[2] ? "point anomalous" : "point" }));
    }
  }
}

function renderStats(v) {
  document.getElementById("stat-rate").textContent = fmt(v.ingest_rate_lps, 1);
  document.getElementById("stat-lines").textContent = fmt(v.lines_received);
  document.getElementById("stat-open").textContent = fmt(v.sessions_open);
  document.getElementById("stat-in-flight").textContent = fmt(v.sessions_in_flight);
  document.getElementById("stat-scored").textContent = fmt(v.windows_scored);
  document.getElementById("stat-alerts").textContent = fmt(v.alerts_stored);
  document.getElementById("stat-queue").textContent = fmt(v.queue_pending);
  rateHistory.push([Date.now(), v.ingest_rate_lps]);
  while (rateHistory.length > 300) rateHistory.shift();
  plot(document.getElementById("rate-chart"), rateHistory, { line: true, unit: " lines/s" });
}

function renderScores(points, threshold) {
  // log time when the lines carry one (when it happened), else when it was scored
  const logTime = points.length > 0 && points.every(p => p.log_time !== null && p.log_time !== undefined);
  document.getElementById("score-axis").textContent = logTime ? "log time" : "time scored";
  const shown = points.map(p => [(logTime ? p.log_time : p.time) * 1000, p.anomaly_score, p.is_anomaly]);
  plot(document.getElementById("score-chart"), shown.sort((a, b) => a[0] - b[0]), { threshold });
}

function renderIncidents(list) {
  const body = document.querySelector("#incidents tbody");
  body.replaceChildren(...list.incidents.map(i => {
    const tr = el("tr", null, "incident " + i.status);
    tr.dataset.session = i.session_id;
    const name = el("td", i.session_id, "link");
    name.addEventListener("click", () => drillDown(i.session_id));
    const actions = el("td");
    for (const [label, action] of [["acknowledge", "acknowledge"], ["normal", "mark-normal"]]) {
      const b = el("button", label, "act-" + action);
      b.addEventListener("click", async () => {
        await postJSON("/v1/incidents/" + encodeURIComponent(i.session_id) + "/" + action);
        tick(false);
      });
      actions.append(b);
    }
    tr.append(name, el("td", i.n_alerts), el("td", fmt(i.max_score, 3), "anom"),
      el("td", new Date(i.last_alert_at * 1000).toLocaleTimeString()), el("td", i.status, "status"), actions);
    return tr;
  }));
}

function renderSessions(sessions) {
  const body = document.querySelector("#sessions tbody");
  body.replaceChildren(...sessions.map(s => {
    const tr = el("tr");
    tr.dataset.session = s.session_id;
    tr.addEventListener("click", () => drillDown(s.session_id));
    // a session already running when the stream began is scored but never alerted: say so, and why
    const state = el("td", s.partial ? s.state + " · partial" : s.state, s.partial ? "partial" : "");
    if (s.partial) state.title = s.partial;
    tr.append(el("td", s.session_id), el("td", fmt(s.max_score, 3), s.is_anomaly ? "anom" : ""),
      el("td", s.n_windows_scored), state);
    return tr;
  }));
}

function renderAlerts(list) {
  document.getElementById("alert-total").textContent = "(" + list.total + ")";
  const ol = document.getElementById("alerts");
  ol.replaceChildren(...list.alerts.map(a => {
    const li = el("li");
    li.className = "alert";
    li.dataset.id = a.id;
    li.dataset.session = a.session_id;
    const head = el("div");
    head.append(el("strong", a.session_id), el("span",
      " score " + fmt(a.anomaly_score, 3) + " > threshold " + fmt(a.threshold, 3) +
      " · window " + (a.window ?? a.window_index) + " · " + a.n_misses + "/" + (a.n_keys + (a.n_marks || 0)) + " missed · " +
      new Date(a.created_at * 1000).toLocaleTimeString()));
    li.append(head);
    for (const m of a.misses) {
      const d = el("div", null, "miss");
      d.append(el("div", "position " + m.position + (m.line_no ? " (line " + m.line_no + ")" : "") +
        ": seen " + (m.template === null ? "<unseen template>" : m.template)));
      if (m.raw) d.append(el("div", m.raw, "raw"));
      d.append(el("div", "expected: " + m.expected.map(e => e.template + " (" + fmt(e.probability * 100, 1) + "%)").join(", "), "expected"));
      li.append(d);
    }
    return li;
  }));
}

async function tick(again = true) {
  const conn = document.getElementById("conn");
  try {
    const alertsPath = "/v1/alerts?" + alertQuery();
    const [stats, scores, sessions, alerts, incidents] = await Promise.all([
      getJSON("/v1/stats"), getJSON("/v1/scores?limit=500"),
      getJSON("/v1/sessions?limit=10"), getJSON(alertsPath), getJSON("/v1/incidents?limit=20"),
    ]);
    renderStats(stats.values);
    renderScores(scores.points, stats.values.threshold);
    renderSessions(sessions.sessions);
    renderIncidents(incidents);
    renderAlerts(alerts);
    conn.textContent = "live";
    conn.className = "conn ok";
  } catch (err) {
    conn.textContent = String(err.message || err);
    conn.className = "conn err";
  } finally {
    if (again) setTimeout(tick, INTERVAL_MS);
  }
}

document.getElementById("api-key").value = apiKey;
document.getElementById("key-form").addEventListener("submit", ev => {
  ev.preventDefault();
  apiKey = document.getElementById("api-key").value;
  localStorage.setItem("logbert-api-key", apiKey);
});
document.getElementById("alert-filter").addEventListener("click", ev => { ev.preventDefault(); drillDown(""); });
document.getElementById("range").addEventListener("change", () => tick(false));
document.getElementById("range").addEventListener("submit", ev => ev.preventDefault());
tick();
