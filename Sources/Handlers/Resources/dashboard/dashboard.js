// SafeAPI Bridge admin dashboard. Plain DOM, no framework; runs under a strict CSP
// (no inline script or style): every node is built with createElement and textContent.
// The admin key is sent once to POST /dashboard/session and never kept; the session lives in an
// HttpOnly cookie and its CSRF token only in `state.csrf`, in this page's memory.
(function () {
  "use strict";

  const state = { csrf: null, expiryTimer: 0, noticeTimer: 0, noticeAt: 0 };
  const PAGE = 50;
  let uid = 0;
  let routeSeq = 0;

  // ---------- DOM helpers ----------
  const $ = (sel, root) => (root || document).querySelector(sel);

  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.setAttribute("class", v);
      else if (k === "text") el.textContent = v;
      else if (k === "dataset") Object.assign(el.dataset, v);
      else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    return el;
  }

  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  const SVGNS = "http://www.w3.org/2000/svg";
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVGNS, tag), attrs), children);
  }

  function button(label, cls, onClick) {
    const b = h("button", { type: "button", class: "btn " + (cls || "secondary"), text: label });
    if (onClick) {
      b.addEventListener("click", async () => {
        b.disabled = true;
        try { await onClick(b); } catch (err) { report(err); } finally { b.disabled = false; }
      });
    }
    return b;
  }

  function tableEl(headers, rows, emptyText) {
    const body = h("tbody", {}, rows);
    if (!rows.length) body.append(h("tr", {}, h("td", { colspan: headers.length, class: "muted center", text: emptyText || "Nothing here yet." })));
    return h("div", { class: "table-wrap" },
      h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col", text: t })))), body));
  }

  function viewHeader(title, ...extra) {
    return h("div", { class: "view-header" }, h("h2", { text: title }), h("div", { class: "view-actions" }, extra));
  }

  function badge(on, yes, no) {
    return h("span", { class: "badge " + (on ? "ok" : "off"), text: on ? yes || "Active" : no || "Inactive" });
  }

  const loading = () => h("p", { class: "loading muted", text: "Loading…" });
  const code = (t) => h("code", { text: t });

  // ---------- form helpers ----------
  function field(f, value) {
    const id = "f-" + ++uid;
    const v = value !== undefined && value !== null ? value : f.value;
    let input;
    if (f.type === "select") {
      input = h("select", { id, name: f.name },
        f.options.map(([ov, label]) => h("option", { value: ov, text: label, selected: String(v ?? "") === ov })));
    } else {
      input = h("input", {
        id, name: f.name, type: f.type || "text", value: v ?? "", placeholder: f.placeholder, required: f.required,
        pattern: f.pattern, min: f.min, maxlength: f.maxlength, autocomplete: "off", spellcheck: "false",
      });
    }
    return h("div", { class: "field" + (f.wide ? " wide" : "") }, h("label", { for: id, text: f.label }), input,
      f.hint ? h("small", { class: "muted", text: f.hint }) : null);
  }

  function form(cls, fields, values, submitLabel, submitClass, onSubmit, ...extra) {
    const submit = h("button", { type: "submit", class: "btn primary " + (submitClass || ""), text: submitLabel });
    const el = h("form", { class: "form " + cls }, fields.map((f) => field(f, values && values[f.name])),
      extra, h("div", { class: "form-actions" }, submit));
    el.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      submit.disabled = true;
      try { await onSubmit(Object.fromEntries(new FormData(el).entries()), el); } catch (err) { report(err); } finally { submit.disabled = false; }
    });
    return el;
  }

  function pick(obj) { // drops empty strings, so optional fields stay absent
    return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== "" && v !== undefined && v !== null));
  }

  // ---------- formatting ----------
  const fmtInt = (n) => Number(n || 0).toLocaleString("en-US", { maximumFractionDigits: 2 });
  function fmtDollars(micros) {
    const d = Number(micros || 0) / 1e6;
    const a = Math.abs(d);
    const digits = a === 0 || a >= 1 ? 2 : a >= 0.01 ? 4 : 6;
    return "$" + d.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  }
  function fmtDate(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }
  const fmtPct = (p) => (Number(p || 0)).toFixed(1) + " %";
  const iso = (ms) => new Date(ms).toISOString().replace(".000Z", "Z");
  const enc = encodeURIComponent;

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== "") u.set(k, String(v));
    const q = u.toString();
    return q ? "?" + q : "";
  }

  // ---------- notices and errors ----------
  class ApiError extends Error {
    constructor(status, body, requestId) {
      const b = body && typeof body === "object" ? body : {};
      super(b.message || "The request failed (HTTP " + status + ").");
      this.status = status;
      this.code = b.error || "http_" + status;
      this.requestId = b.requestId || requestId || "";
      this.sessionEnded = status === 401;
    }
    describe() { return this.message + (this.requestId ? " (request " + this.requestId + ")" : ""); }
  }

  function notify(msg, kind) {
    const box = $("#notice");
    box.className = "notice " + (kind || "error");
    $("#notice-text").textContent = msg instanceof ApiError ? msg.describe() : String(msg && msg.message ? msg.message : msg);
    box.hidden = false;
    state.noticeAt = Date.now();
    clearTimeout(state.noticeTimer);
    if (kind === "ok") state.noticeTimer = setTimeout(() => { box.hidden = true; }, 6000);
  }

  function report(err) {
    if (err && err.sessionEnded) return; // already back at the sign-in form
    notify(err);
  }

  function errorBox(err) {
    return h("div", { class: "error-box", role: "alert" }, h("strong", { text: err.message || String(err) }),
      err.requestId ? h("div", { class: "muted small" }, "Request id: ", code(err.requestId)) : null);
  }

  // ---------- API ----------
  async function readJson(res) {
    try { return await res.json(); } catch (e) { return null; }
  }

  async function api(method, path, body) {
    const headers = { "X-CSRF-Token": state.csrf || "" };
    const init = { method, credentials: "same-origin", cache: "no-store", headers };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    let res;
    try { res = await fetch(path, init); } catch (e) { throw new ApiError(0, { error: "network_error", message: "The server could not be reached." }); }
    if (res.status === 204) return null;
    const data = await readJson(res);
    if (res.status === 401) showSignIn("Your session has ended. Sign in again.");
    if (!res.ok) throw new ApiError(res.status, data, res.headers.get("x-request-id"));
    return data;
  }

  // ---------- session ----------
  function startSession(session) {
    state.csrf = session.csrfToken;
    $("#signin").hidden = true;
    $("#signin-error").hidden = true;
    $("#nav").hidden = false;
    $("#session-bar").hidden = false;
    $("#view").hidden = false;
    const until = new Date(session.expiresAt);
    $("#session-expiry").textContent = isNaN(until) ? "" : "Session until " + until.toLocaleTimeString(undefined, { timeStyle: "short" });
    clearTimeout(state.expiryTimer);
    const ms = until - Date.now();
    if (ms > 0) state.expiryTimer = setTimeout(() => showSignIn("Your session has expired. Sign in again."), Math.min(ms, 2147483000));
    route();
  }

  function showSignIn(message) {
    state.csrf = null;
    routeSeq++;
    clearTimeout(state.expiryTimer);
    $("#nav").hidden = true;
    $("#session-bar").hidden = true;
    $("#view").hidden = true;
    $("#view").replaceChildren(); // no admin data stays in the page
    $("#notice").hidden = true;
    $("#signin").hidden = false;
    const err = $("#signin-error");
    err.textContent = message || "";
    err.hidden = !message;
    $("#admin-key").focus();
  }

  async function onSignIn(ev) {
    ev.preventDefault();
    const input = $("#admin-key");
    const key = input.value;
    input.value = ""; // the key is never kept, not even in the field
    if (!key) return showSignIn("Enter the admin key.");
    const submit = $("#signin-submit");
    submit.disabled = true;
    try {
      const res = await fetch("/dashboard/session", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ adminKey: key }),
      });
      const data = await readJson(res);
      if (res.ok && data && data.csrfToken) return startSession(data);
      const e = new ApiError(res.status, data, res.headers.get("x-request-id"));
      const wait = res.headers.get("Retry-After") || (data && data.retryAfter);
      showSignIn(e.describe() + (res.status === 429 && wait ? " Try again in " + wait + " s." : ""));
    } catch (e) {
      showSignIn("The server could not be reached.");
    } finally {
      submit.disabled = false;
    }
  }

  async function onSignOut() {
    try { await api("DELETE", "/dashboard/session"); } catch (err) { if (!err.sessionEnded) return report(err); }
    showSignIn("You are signed out.");
  }

  // ---------- routing (state in the hash, never a secret) ----------
  const views = {
    overview: viewOverview, users: viewUsers, apps: viewApps, "split-keys": viewSplitKeys,
    "ip-rules": viewIPRules, webhooks: viewWebhooks, audit: viewAudit,
  };

  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, "");
    const i = raw.indexOf("?");
    const name = i < 0 ? raw : raw.slice(0, i);
    return { name: views[name] ? name : "overview", params: new URLSearchParams(i < 0 ? "" : raw.slice(i + 1)) };
  }

  function go(name, params) {
    const next = "#/" + name + qs(params);
    if (location.hash === next) route(); else location.hash = next;
  }

  async function route() {
    if (!state.csrf) return;
    const { name, params } = parseHash();
    if (Date.now() - state.noticeAt > 1500) $("#notice").hidden = true; // a notice of the last view goes with it
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.dataset.view === name) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    }
    const view = $("#view");
    const root = h("div", { class: "view-root" }); // a stale view writes into a detached root
    view.replaceChildren(root);
    view.dataset.view = name;
    view.dataset.state = "loading";
    const seq = ++routeSeq;
    try {
      await views[name](root, params);
      if (seq === routeSeq) view.dataset.state = "ready";
    } catch (err) {
      if (seq !== routeSeq || err.sessionEnded) return;
      view.dataset.state = "error";
      root.append(errorBox(err));
    }
  }

  function pager(total, offset, limit, goTo) {
    const prev = button("Previous", "secondary prev", () => goTo(Math.max(0, offset - limit)));
    const next = button("Next", "secondary next", () => goTo(offset + limit));
    prev.disabled = offset <= 0;
    next.disabled = offset + limit >= total;
    const info = total ? (offset + 1) + "–" + Math.min(offset + limit, total) + " of " + fmtInt(total) : "No entries";
    return h("div", { class: "pager" }, prev, h("span", { class: "muted", text: info }), next);
  }

  // ---------- SVG charts ----------
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // series: [{name, values[]}] aligned with labels. kind "line" or "bar" (bars stack).
  function chart(title, labels, series, kind, format) {
    format = format || fmtInt;
    const card = h("figure", { class: "card chart-card" }, h("figcaption", { text: title }));
    const total = series.reduce((a, se) => a + se.values.reduce((x, y) => x + y, 0), 0);
    if (!series.length || !total) return append(card, [h("div", { class: "empty", text: "No data in this range" })]);
    const W = 640, H = 240, L = 64, R = 12, T = 12, B = 30, pw = W - L - R, ph = H - T - B, n = labels.length;
    const stacked = labels.map((_, i) => series.reduce((a, se) => a + (se.values[i] || 0), 0));
    const max = niceMax(Math.max(...(kind === "bar" ? stacked : series.flatMap((se) => se.values))));
    const y = (v) => T + ph - (v / max) * ph;
    const bw = pw / n;
    const x = (i) => L + bw * (i + 0.5);
    const svg = s("svg", { class: "chart", viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title, preserveAspectRatio: "xMidYMid meet" });
    for (let i = 0; i <= 4; i++) {
      const yy = y((max * i) / 4);
      svg.append(s("line", { class: "grid", x1: L, x2: W - R, y1: yy, y2: yy }),
        s("text", { class: "tick", x: L - 6, y: yy + 4, "text-anchor": "end" }, format((max * i) / 4)));
    }
    const every = Math.max(1, Math.ceil(n / 7));
    labels.forEach((lab, i) => {
      if (i % every === 0) svg.append(s("text", { class: "tick", x: x(i), y: H - 8, "text-anchor": "middle" }, lab));
    });
    if (kind === "bar") {
      const base = new Array(n).fill(0);
      series.forEach((se, k) => se.values.forEach((v, i) => {
        if (!v) return;
        const y0 = y(base[i]), y1 = y(base[i] + v);
        base[i] += v;
        svg.append(s("rect", { class: "series c" + (k % 8), x: x(i) - bw * 0.35, width: Math.max(1, bw * 0.7), y: y1, height: Math.max(1, y0 - y1) },
          s("title", {}, se.name + " · " + labels[i] + ": " + format(v))));
      }));
    } else {
      series.forEach((se, k) => {
        const d = se.values.map((v, i) => (i ? "L" : "M") + x(i).toFixed(1) + "," + y(v).toFixed(1)).join("");
        svg.append(s("path", { class: "series line c" + (k % 8), d }, s("title", {}, se.name)));
        se.values.forEach((v, i) => {
          if (v) svg.append(s("circle", { class: "dot c" + (k % 8), cx: x(i), cy: y(v), r: 3 }, s("title", {}, se.name + " · " + labels[i] + ": " + format(v))));
        });
      });
    }
    const legend = h("ul", { class: "legend" }, series.map((se, k) =>
      h("li", {}, h("span", { class: "swatch c" + (k % 8), "aria-hidden": "true" }), se.name)));
    return append(card, [svg, legend]);
  }

  // Points of a timeseries as one series per group, aligned to the buckets; the largest first,
  // at most `keep` of them and the rest summed as "Other".
  function seriesFrom(points, buckets, metric, keep, unnamed) {
    const index = new Map(buckets.map((t, i) => [t, i]));
    const groups = new Map();
    for (const p of points || []) {
      const i = index.get(Date.parse(p.bucket));
      if (i === undefined) continue;
      const name = p.group || unnamed || "(none)";
      if (!groups.has(name)) groups.set(name, new Array(buckets.length).fill(0));
      groups.get(name)[i] += Number(p[metric] || 0);
    }
    const sum = (vs) => vs.reduce((a, b) => a + b, 0);
    const list = [...groups].map(([name, values]) => ({ name, values })).sort((a, b) => sum(b.values) - sum(a.values));
    keep = keep || 6;
    if (list.length <= keep) return list;
    const other = { name: "Other", values: new Array(buckets.length).fill(0) };
    for (const se of list.slice(keep - 1)) se.values.forEach((v, i) => { other.values[i] += v; });
    return list.slice(0, keep - 1).concat(other);
  }

  function totalSeries(name, series, length) {
    const values = new Array(length).fill(0);
    for (const se of series) se.values.forEach((v, i) => { values[i] += v; });
    return [{ name, values }];
  }

  // ---------- Overview ----------
  const RANGES = [["24h", "Last 24 hours"], ["7d", "Last 7 days"], ["30d", "Last 30 days"]];

  function rangeBounds(key) {
    const n = new Date(), HOUR = 3600e3, DAY = 86400e3;
    if (key === "24h") {
      const to = Date.UTC(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate(), n.getUTCHours() + 1);
      return { from: to - 24 * HOUR, to, granularity: "hour", step: HOUR };
    }
    const to = Date.UTC(n.getUTCFullYear(), n.getUTCMonth(), n.getUTCDate() + 1);
    return { from: to - (key === "30d" ? 30 : 7) * DAY, to, granularity: "day", step: DAY };
  }

  function bucketLabel(ms, granularity) {
    const opts = granularity === "hour" ? { hour: "2-digit", minute: "2-digit", hourCycle: "h23" } : { month: "short", day: "numeric" };
    return new Date(ms).toLocaleString("en-US", Object.assign({ timeZone: "UTC" }, opts));
  }

  function tile(label, value, sub) {
    return h("div", { class: "card tile" }, h("div", { class: "tile-label", text: label }), h("div", { class: "tile-value", text: value }),
      sub ? h("div", { class: "tile-sub muted", text: sub }) : null);
  }

  async function viewOverview(root, params) {
    const key = RANGES.some(([k]) => k === params.get("range")) ? params.get("range") : "24h";
    const select = field({ name: "range", label: "Range", type: "select", options: RANGES }, key);
    select.querySelector("select").addEventListener("change", (ev) => go("overview", { range: ev.target.value }));
    const body = loading();
    root.append(viewHeader("Overview", select), body);

    const b = rangeBounds(key);
    const range = { from: iso(b.from), to: iso(b.to) };
    const [ov, errs, byProvider, byModel] = await Promise.all([
      api("GET", "/analytics/overview" + qs(range)),
      api("GET", "/analytics/errors" + qs(range)),
      api("GET", "/analytics/timeseries" + qs(Object.assign({ granularity: b.granularity, groupBy: "provider" }, range))),
      api("GET", "/analytics/timeseries" + qs(Object.assign({ granularity: b.granularity, groupBy: "model" }, range))),
    ]);
    const buckets = [];
    for (let t = b.from; t < b.to; t += b.step) buckets.push(t);
    const labels = buckets.map((t) => bucketLabel(t, b.granularity));
    const providerReqs = seriesFrom(byProvider.points, buckets, "requests");
    const tokens = totalSeries("Tokens", seriesFrom(byProvider.points, buckets, "tokens", 1e9), buckets.length);
    const cost = totalSeries("Cost", seriesFrom(byProvider.points, buckets, "costMicros", 1e9), buckets.length);
    const models = seriesFrom(byModel.points, buckets, "requests", 6, "(no model)");

    const tiles = h("div", { class: "tiles" },
      tile("Requests", fmtInt(ov.totalRequests), fmtInt(errs.failed) + " failed"),
      tile("Users", fmtInt(ov.totalUsers), "with at least one request"),
      tile("Tokens", fmtInt(ov.totalTokens)),
      tile("Cost", fmtDollars(ov.totalCostMicros), "provider list prices"),
      tile("Error rate", fmtPct(errs.errorRate), fmtInt(errs.successful) + " of " + fmtInt(errs.total) + " succeeded"));
    const charts = h("div", { class: "charts" },
      chart("Requests by provider", labels, providerReqs, "line"),
      chart("Tokens", labels, tokens, "bar"),
      chart("Cost (USD)", labels, cost, "line", fmtDollars),
      chart("Requests by model", labels, models, "bar"));

    const providerRows = (ov.apiStats || []).map((p) => h("tr", {},
      h("td", {}, code(p.provider)), h("td", { class: "num", text: fmtInt(p.requests) }), h("td", { class: "num", text: fmtInt(p.failed) }),
      h("td", { class: "num", text: fmtPct(p.requests ? (100 * p.failed) / p.requests : 0) }),
      h("td", { class: "num", text: fmtInt(Math.round(p.avgLatencyMs)) + " ms" }),
      h("td", { class: "num", text: fmtInt(p.tokens) }), h("td", { class: "num", text: fmtDollars(p.costMicros) })));
    const userRows = (ov.topUsers || []).map((u) => h("tr", {},
      h("td", {}, h("a", { href: "#/users" + qs({ search: u.userId, usage: u.userId }), text: u.userId })),
      h("td", { text: u.appId }), h("td", { class: "num", text: fmtInt(u.requests) }),
      h("td", { class: "num", text: fmtInt(u.tokens) }), h("td", { class: "num", text: fmtDollars(u.costMicros) })));

    body.replaceWith(tiles, charts,
      h("p", { class: "muted small", text: "Times are UTC. " + (b.granularity === "hour" ? "One bucket per hour." : "One bucket per day.") }),
      h("div", { class: "grid-2" },
        h("section", { class: "card" }, h("h3", { text: "Errors by provider" }),
          tableEl(["Provider", "Requests", "Failed", "Error rate", "Avg latency", "Tokens", "Cost"], providerRows, "No requests in this range.")),
        h("section", { class: "card" }, h("h3", { text: "Top users" }),
          tableEl(["User", "App", "Requests", "Tokens", "Cost"], userRows, "No requests in this range."))));
  }

  // ---------- Users ----------
  async function viewUsers(root, params) {
    const search = params.get("search") || "";
    const offset = Math.max(0, parseInt(params.get("offset"), 10) || 0);
    const filters = form("filters", [{ name: "search", label: "User id starts with", value: search, maxlength: 128, placeholder: "e.g. user-4" }],
      null, "Search", "search-users", (v) => go("users", { search: v.search.trim() }));
    const list = loading();
    const usage = h("div", { class: "usage-panel" });
    root.append(viewHeader("Users"), filters, list, usage);

    const data = await api("GET", "/admin/users" + qs({ limit: PAGE, offset, search }));
    list.replaceWith(
      tableEl(["User", "App", "Status", "Quotas", "Created", "Actions"], data.users.map((u) => userRow(u, usage)), search ? "No user id starts with this text." : "No users yet."),
      pager(data.total, offset, PAGE, (off) => go("users", { search, offset: off })));
    if (params.get("usage")) await showUsage(params.get("usage"), usage);
  }

  function quotaText(u) {
    const parts = [fmtInt(u.dailyQuota) + " / day", fmtInt(u.monthlyQuota) + " / month"];
    const bu = u.budgets || {};
    if (bu.dailyTokens !== undefined) parts.push(fmtInt(bu.dailyTokens) + " tokens / day");
    if (bu.monthlyTokens !== undefined) parts.push(fmtInt(bu.monthlyTokens) + " tokens / month");
    if (bu.dailyCostMicros !== undefined) parts.push(fmtDollars(bu.dailyCostMicros) + " / day");
    if (bu.monthlyCostMicros !== undefined) parts.push(fmtDollars(bu.monthlyCostMicros) + " / month");
    return parts.join(" · ");
  }

  function userRow(u, usagePanel) {
    const path = "/admin/users/" + enc(u.userId);
    const quotaCell = h("td", { class: "quotas", text: quotaText(u) });
    const tr = h("tr", { class: u.active ? "" : "inactive", dataset: { userId: u.userId, active: String(u.active) } });
    const toggle = u.active
      ? button("Deactivate", "danger deactivate", async () => {
        if (!confirm("Deactivate " + u.userId + "? Every token of this user is revoked at once.")) return;
        tr.replaceWith(userRow(await api("PATCH", path, { active: false }), usagePanel));
        notify(u.userId + " is deactivated.", "ok");
      })
      : button("Activate", "secondary activate", async () => {
        tr.replaceWith(userRow(await api("PATCH", path, { active: true }), usagePanel));
        notify(u.userId + " is active again; old tokens stay revoked.", "ok");
      });
    const edit = button("Edit quotas", "secondary edit-quotas", () => {
      const f = form("inline quota-form", [
        { name: "dailyQuota", label: "Daily", type: "number", min: 0, required: true },
        { name: "monthlyQuota", label: "Monthly", type: "number", min: 0, required: true },
      ], u, "Save", "save-quotas", async (v) => {
        const updated = await api("PATCH", path, { dailyQuota: Number(v.dailyQuota), monthlyQuota: Number(v.monthlyQuota) });
        tr.replaceWith(userRow(updated, usagePanel));
        notify("Quotas of " + u.userId + " saved.", "ok");
      }, button("Cancel", "link", () => quotaCell.replaceChildren(quotaText(u))));
      quotaCell.replaceChildren(f);
      f.querySelector("input").focus();
    });
    const usageBtn = button("Usage", "link usage", () => showUsage(u.userId, usagePanel));
    return append(tr, [h("td", {}, code(u.userId)), h("td", { text: u.appId }), h("td", { class: "status" }, badge(u.active)),
      quotaCell, h("td", { text: fmtDate(u.createdAt) }), h("td", { class: "actions" }, toggle, edit, usageBtn)]);
  }

  async function showUsage(userId, panel) {
    panel.replaceChildren(loading());
    const a = await api("GET", "/analytics/user/" + enc(userId));
    const recent = (a.recentRequests || []).map((r) => h("tr", {},
      h("td", { text: fmtDate(r.createdAt) }), h("td", {}, code(r.provider)), h("td", { text: r.model || "—" }),
      h("td", {}, code(r.endpoint)), h("td", { class: "num" + (r.status >= 400 ? " bad" : ""), text: r.status }),
      h("td", { class: "num", text: fmtInt(r.inputTokens) + " / " + fmtInt(r.outputTokens) }),
      h("td", { class: "num", text: fmtDollars(r.costMicros) }), h("td", { class: "num", text: fmtInt(r.latencyMs) + " ms" }),
      h("td", { text: r.keySource })));
    panel.replaceChildren(h("section", { class: "card" },
      h("div", { class: "view-header" }, h("h3", {}, "Usage of ", code(userId), " (all time)"), button("Close", "link", () => panel.replaceChildren())),
      h("div", { class: "tiles" }, tile("Requests", fmtInt(a.totalRequests), fmtInt(a.failedRequests) + " failed"),
        tile("Tokens", fmtInt(a.totalTokens)), tile("Cost", fmtDollars(a.totalCostMicros))),
      h("h4", { text: "Last requests" }),
      tableEl(["Time", "Provider", "Model", "Endpoint", "Status", "Tokens in / out", "Cost", "Latency", "Key"], recent, "No requests.")));
    panel.scrollIntoView({ block: "nearest" });
  }

  // ---------- Apps ----------
  function secretBox(title, secret) {
    const value = h("code", { class: "secret", text: secret });
    const box = h("div", { class: "secret-box", role: "status" },
      h("strong", { text: title }),
      h("p", { text: "Copy it now and keep it in your app's backend. It is shown only once: this page does not keep it, and the server stores only a hash." }),
      value,
      h("div", { class: "form-actions" },
        button("Copy", "secondary", async () => {
          try { await navigator.clipboard.writeText(secret); notify("Copied to the clipboard.", "ok"); } catch (e) {
            getSelection().selectAllChildren(value);
          }
        }),
        button("I have saved it", "primary dismiss", () => box.remove())));
    return box;
  }

  function describeGuests(g) {
    if (!g || !g.enabled) return "Off";
    return "On: " + fmtInt(g.dailyQuota) + "/day, " + fmtInt(g.monthlyQuota) + "/month each; " + fmtInt(g.newPerHour) + " new/h, " + fmtInt(g.maxPerDay) + " new/day";
  }

  function describeCaps(c) {
    if (!c || !Object.keys(c).length) return "None";
    const p = [];
    if (c.newUsersPerHour !== undefined) p.push(fmtInt(c.newUsersPerHour) + " new users/h");
    if (c.dailyRequests !== undefined) p.push(fmtInt(c.dailyRequests) + " req/day");
    if (c.monthlyRequests !== undefined) p.push(fmtInt(c.monthlyRequests) + " req/month");
    if (c.dailyCostMicros !== undefined) p.push(fmtDollars(c.dailyCostMicros) + "/day");
    if (c.monthlyCostMicros !== undefined) p.push(fmtDollars(c.monthlyCostMicros) + "/month");
    return p.join(" · ");
  }

  function describeIdentity(app) {
    const list = (app.identityProviders || []).map((p) => h("div", {}, code(p.namespace), " ", h("span", { class: "muted small", text: p.issuer })));
    if (!list.length) list.push(h("span", { class: "muted", text: "App secret only" }));
    if (app.requireDPoP) list.push(h("div", {}, h("span", { class: "badge info", text: "DPoP required" })));
    return list;
  }

  async function viewApps(root) {
    const secretSlot = h("div", { class: "secret-slot" });
    let list = loading();
    const reload = async () => {
      const data = await api("GET", "/admin/apps");
      const fresh = tableEl(["App", "Status", "Sign-in", "Guests", "Caps", "Created", "Secret rotated", "Actions"],
        data.apps.map((a) => appRow(a, secretSlot, reload)), "No apps yet: register one above.");
      list.replaceWith(fresh);
      list = fresh;
    };
    const create = form("create-form", [
      { name: "name", label: "Name", required: true, maxlength: 200, placeholder: "iOS app" },
      { name: "appId", label: "App id (optional, random when empty)", maxlength: 128, pattern: "[A-Za-z0-9._@\\-]{3,128}", placeholder: "com.example.ios" },
      { name: "description", label: "Description (optional)", maxlength: 1000, wide: true },
    ], null, "Register app", "create-app", async (v, el) => {
      const res = await api("POST", "/admin/apps", pick(v));
      el.reset();
      secretSlot.replaceChildren(secretBox("The secret of " + res.app.name + " (" + res.app.appId + ")", res.appSecret));
      await reload();
    });
    root.append(viewHeader("Apps"), secretSlot, h("section", { class: "card" }, h("h3", { text: "Register an app" }), create), list);
    await reload();
  }

  function appRow(a, secretSlot, reload) {
    const path = "/admin/apps/" + enc(a.appId);
    return h("tr", { dataset: { appId: a.appId }, class: a.active ? "" : "inactive" },
      h("td", {}, h("div", { class: "strong", text: a.name }), code(a.appId), a.description ? h("div", { class: "muted small", text: a.description }) : null),
      h("td", {}, badge(a.active)), h("td", {}, describeIdentity(a)), h("td", { class: "small", text: describeGuests(a.guests) }),
      h("td", { class: "small", text: describeCaps(a.caps) }), h("td", { text: fmtDate(a.createdAt) }), h("td", { text: fmtDate(a.secretRotatedAt) }),
      h("td", { class: "actions" },
        button("Rotate secret", "secondary rotate-secret", async () => {
          if (!confirm("Rotate the secret of " + a.appId + "? The old secret stops working at once.")) return;
          const res = await api("POST", path + "/rotate-secret");
          secretSlot.replaceChildren(secretBox("The new secret of " + res.app.name + " (" + res.app.appId + ")", res.appSecret));
          secretSlot.scrollIntoView({ block: "nearest" });
          await reload();
        }),
        button(a.active ? "Deactivate" : "Activate", "secondary app-toggle", async () => {
          if (a.active && !confirm("Deactivate " + a.appId + "? Its users get no new tokens and cannot refresh.")) return;
          await api("PATCH", path, { active: !a.active });
          await reload();
        })));
  }

  // ---------- Split keys ----------
  async function viewSplitKeys(root, params) {
    const f = { userId: params.get("userId") || "", provider: params.get("provider") || "" };
    const filters = form("filters", [
      { name: "userId", label: "User id", placeholder: "user-42" },
      { name: "provider", label: "Provider", placeholder: "openai", maxlength: 32 },
    ], f, "Filter", "filter-keys", (v) => go("split-keys", pick({ userId: v.userId.trim(), provider: v.provider.trim() })));
    const list = loading();
    root.append(viewHeader("Split keys"), h("p", { class: "muted", text: "Metadata only: the bridge never shows a key or a part of one. Newest first, at most 1,000." }), filters, list);
    const data = await api("GET", "/admin/split-keys" + qs(f));
    list.replaceWith(tableEl(["Key id", "User", "Provider", "Version", "Description", "Status", "Uses", "Last used", "Created", ""],
      data.keys.map((k) => h("tr", { dataset: { keyId: k.keyId }, class: k.active ? "" : "inactive" },
        h("td", {}, code(k.keyId)), h("td", {}, code(k.userId)), h("td", { text: k.provider }), h("td", { class: "num", text: k.version }),
        h("td", { text: k.description || "—" }), h("td", {}, badge(k.active, "Active", "Deleted")), h("td", { class: "num", text: fmtInt(k.useCount) }),
        h("td", { text: fmtDate(k.lastUsedAt) }), h("td", { text: fmtDate(k.createdAt) }),
        h("td", { class: "actions" }, k.active ? button("Delete", "danger delete-key", async () => {
          if (!confirm("Delete key " + k.keyId + " of " + k.userId + "? Its ciphertext is erased; this cannot be undone.")) return;
          await api("DELETE", "/admin/split-keys/" + enc(k.keyId) + qs({ userId: k.userId }));
          notify("Key " + k.keyId + " deleted.", "ok");
          route();
        }) : null))), "No split keys."));
  }

  // ---------- IP rules ----------
  async function viewIPRules(root) {
    const create = form("create-form", [
      { name: "cidr", label: "Address or CIDR", required: true, maxlength: 64, placeholder: "203.0.113.0/24" },
      { name: "type", label: "Type", type: "select", options: [["deny", "Deny"], ["allow", "Allow"]] },
      { name: "reason", label: "Reason (optional)", maxlength: 500, placeholder: "scraping" },
      { name: "expiresAt", label: "Expires (optional, local time)", type: "datetime-local" },
    ], null, "Add rule", "create-rule", async (v, el) => {
      if (v.type === "allow" && !confirm("Once an allow rule is in force, only the addresses it covers pass, on admin routes too. Add it?")) return;
      const body = pick({ cidr: v.cidr.trim(), type: v.type, reason: v.reason.trim() });
      if (v.expiresAt) body.expiresAt = new Date(v.expiresAt).toISOString();
      await api("POST", "/admin/ip-rules", body);
      el.reset();
      notify("Rule added.", "ok");
      route();
    });
    const list = loading();
    root.append(viewHeader("IP rules"), h("p", { class: "muted", text: "Deny wins over allow; once any allow rule is in force, only the addresses it covers pass (admin routes too)." }),
      h("section", { class: "card" }, h("h3", { text: "Add a rule" }), create), list);
    const data = await api("GET", "/admin/ip-rules");
    list.replaceWith(tableEl(["Address", "Type", "Reason", "Expires", "Status", "Created by", "Created", ""],
      data.rules.map((r) => h("tr", { dataset: { ruleId: r.id }, class: r.active ? "" : "inactive" },
        h("td", {}, code(r.cidr)), h("td", {}, h("span", { class: "badge " + (r.type === "deny" ? "bad" : "ok"), text: r.type })),
        h("td", { text: r.reason || "—" }), h("td", { text: r.expiresAt ? fmtDate(r.expiresAt) : "Never" }),
        h("td", {}, badge(r.active, "In force", "Expired")), h("td", { text: r.createdBy || "—" }), h("td", { text: fmtDate(r.createdAt) }),
        h("td", { class: "actions" }, button("Delete", "danger delete-rule", async () => {
          if (!confirm("Remove the rule for " + r.cidr + "?")) return;
          await api("DELETE", "/admin/ip-rules/" + enc(r.id));
          notify("Rule removed.", "ok");
          route();
        })))), "No IP rules."));
  }

  // ---------- Webhooks ----------
  const EVENTS = ["user.created", "quota.warning", "quota.exceeded", "app.cap.warning", "app.cap.reached", "key.split",
    "key.rotated", "key.revoked", "api.error", "provider.key_disabled", "security.alert"];

  async function viewWebhooks(root) {
    const secretSlot = h("div", { class: "secret-slot" });
    const deliveries = h("div", { class: "deliveries-panel" });
    const events = h("fieldset", { class: "events wide" }, h("legend", { text: "Events" }),
      EVENTS.map((e) => { const id = "f-" + ++uid; return h("span", { class: "check" }, h("input", { type: "checkbox", id, name: "events", value: e }), h("label", { for: id, text: e })); }));
    const create = form("create-form", [
      { name: "url", label: "URL", required: true, type: "url", placeholder: "https://hooks.example.com/safeapi", wide: true },
      { name: "description", label: "Description (optional)", maxlength: 500 },
    ], null, "Add webhook", "create-webhook", async (v, el) => {
      const chosen = [...el.querySelectorAll("input[name=events]:checked")].map((c) => c.value);
      if (!chosen.length) return notify("Choose at least one event.");
      const res = await api("POST", "/admin/webhooks", pick({ url: v.url.trim(), description: v.description.trim(), events: chosen }));
      el.reset();
      secretSlot.replaceChildren(secretBox("The signing secret of " + res.webhook.url, res.secret));
      route();
    }, events);
    const list = loading();
    root.append(viewHeader("Webhooks"), secretSlot, h("section", { class: "card" }, h("h3", { text: "Add a webhook" }), create), list, deliveries);
    const data = await api("GET", "/admin/webhooks");
    list.replaceWith(tableEl(["URL", "Events", "Description", "Status", "Created", ""],
      data.webhooks.map((w) => h("tr", { dataset: { webhookId: w.id }, class: w.active ? "" : "inactive" },
        h("td", {}, code(w.url)), h("td", { class: "small", text: (w.events || []).join(", ") }), h("td", { text: w.description || "—" }),
        h("td", {}, badge(w.active)), h("td", { text: fmtDate(w.createdAt) }),
        h("td", { class: "actions" },
          button("Deliveries", "secondary show-deliveries", () => showDeliveries(w, deliveries)),
          button("Send test", "secondary", async () => { await api("POST", "/admin/webhooks/" + enc(w.id) + "/test"); await showDeliveries(w, deliveries); }),
          button("Delete", "danger delete-webhook", async () => {
            if (!confirm("Delete the webhook for " + w.url + " and its pending deliveries?")) return;
            await api("DELETE", "/admin/webhooks/" + enc(w.id));
            notify("Webhook deleted.", "ok");
            route();
          })))), "No webhooks."));
  }

  async function showDeliveries(w, panel) {
    panel.replaceChildren(loading());
    const data = await api("GET", "/admin/webhooks/" + enc(w.id) + "/deliveries" + qs({ limit: 50 }));
    const cls = { delivered: "ok", failed: "bad", pending: "info" };
    panel.replaceChildren(h("section", { class: "card" },
      h("div", { class: "view-header" }, h("h3", {}, "Deliveries to ", code(w.url)), button("Close", "link", () => panel.replaceChildren())),
      tableEl(["Event id", "Event", "Status", "Attempts", "Last status", "Last error", "Created", "Delivered / next"],
        data.deliveries.map((d) => h("tr", {}, h("td", {}, code(d.id)), h("td", { text: d.event }),
          h("td", {}, h("span", { class: "badge " + (cls[d.status] || ""), text: d.status })), h("td", { class: "num", text: d.attempts }),
          h("td", { class: "num", text: d.lastStatus ?? "—" }), h("td", { text: d.lastError || "—" }), h("td", { text: fmtDate(d.createdAt) }),
          h("td", { text: d.deliveredAt ? fmtDate(d.deliveredAt) : d.nextAttemptAt ? "next " + fmtDate(d.nextAttemptAt) : "—" }))), "No deliveries yet.")));
    panel.scrollIntoView({ block: "nearest" });
  }

  // ---------- Audit log ----------
  function prettyJson(text) {
    try { return JSON.stringify(JSON.parse(text), null, 2); } catch (e) { return text; }
  }

  async function viewAudit(root, params) {
    const f = { action: params.get("action") || "", actorId: params.get("actorId") || "", target: params.get("target") || "", success: params.get("success") || "" };
    const offset = Math.max(0, parseInt(params.get("offset"), 10) || 0);
    const filters = form("filters", [
      { name: "action", label: "Action or prefix", placeholder: "user. or app.create", maxlength: 64 },
      { name: "actorId", label: "Actor", placeholder: "admin-1a2b3c4d or a user id" },
      { name: "target", label: "Target", maxlength: 256 },
      { name: "success", label: "Result", type: "select", options: [["", "Any"], ["true", "Succeeded"], ["false", "Failed"]] },
    ], f, "Filter", "filter-audit", (v) => go("audit", pick({ action: v.action.trim(), actorId: v.actorId.trim(), target: v.target.trim(), success: v.success })));
    const verdict = h("div", { class: "verdict-slot" });
    const verify = button("Verify chain", "primary verify-chain", async () => {
      const r = await api("GET", "/admin/audit-logs/verify");
      const fb = r.firstBroken;
      verdict.replaceChildren(r.valid
        ? h("div", { class: "verdict valid", role: "status" }, h("strong", { text: "The chain is intact." }), " " + fmtInt(r.checked) + " entries checked.",
          r.headHash ? h("div", { class: "small" }, "Head hash: ", code(r.headHash)) : null)
        : h("div", { class: "verdict broken", role: "alert" }, h("strong", { text: "The chain is broken." }), " " + fmtInt(r.checked) + " entries checked.",
          fb ? h("div", {}, "First broken entry: #" + fb.seq + " ", code(fb.id), " (" + fb.reason.replace(/_/g, " ") + ")") : null));
    });
    const list = loading();
    root.append(viewHeader("Audit log", verify), verdict, filters, list);
    const data = await api("GET", "/admin/audit-logs" + qs(Object.assign({ limit: PAGE, offset }, f)));
    list.replaceWith(tableEl(["#", "Time", "Actor", "Action", "Target", "Result", "Address", "Request id", "Change"],
      data.logs.map((e) => h("tr", { dataset: { seq: e.seq }, class: e.success ? "" : "failed" },
        h("td", { class: "num", text: e.seq }), h("td", { text: fmtDate(e.at) }),
        h("td", {}, h("span", { class: "muted small", text: e.actorType + " " }), code(e.actorId)),
        h("td", {}, code(e.action)), h("td", { text: e.target || "—" }),
        h("td", {}, e.success ? badge(true, "OK") : h("span", { class: "badge bad", text: e.error || "failed" })),
        h("td", { text: e.ip || "—" }), h("td", { class: "small" }, e.requestId ? code(e.requestId) : "—"),
        h("td", {}, e.before || e.after ? h("details", {}, h("summary", { text: "Before / after" }),
          e.before ? h("pre", { text: "Before:\n" + prettyJson(e.before) }) : null,
          e.after ? h("pre", { text: "After:\n" + prettyJson(e.after) }) : null) : "—"))), "No entries match."),
    pager(data.total, offset, PAGE, (off) => go("audit", pick(Object.assign({}, f, { offset: off })))));
  }

  // ---------- start ----------
  async function boot() {
    $("#signin-form").addEventListener("submit", onSignIn);
    $("#sign-out").addEventListener("click", onSignOut);
    $("#notice-close").addEventListener("click", () => { $("#notice").hidden = true; });
    window.addEventListener("hashchange", route);
    try {
      const res = await fetch("/dashboard/session", { credentials: "same-origin", cache: "no-store" });
      if (res.ok) {
        const session = await readJson(res);
        if (session && session.csrfToken) return startSession(session);
      }
    } catch (e) { /* shown as signed out */ }
    showSignIn();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot); else boot();
})();
