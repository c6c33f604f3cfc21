// Heartline project view: a small single-page app over /api/v1, live through /api/v1/events.
// Every word on the page comes from the hub's message catalogue (/i18n/messages.json, in the
// reader's language); times are shown in the tenant's time zone.
"use strict";
const $ = (sel, el = document) => el.querySelector(sel);
const main = $("#main");
let me = null;
let rerender = null;
let L = {};
let lang = document.documentElement.lang || "zh-CN";
// performance.now() when the current view finished its first render (the browser test reads it).
window.hlRendered = null;

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
// A page message with its {name} holes filled; a missing one shows its id (the tests look for that).
const t = (id, args = {}) => (L[id] ?? id).replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ""));

// The page's words: from the data block the hub put in the page, or fetched after a switch.
async function loadMessages(fetched = false) {
  const body = fetched ? await (await fetch("/i18n/messages.json", { credentials: "same-origin" })).json() : JSON.parse($("#hl-messages").textContent);
  L = body.messages; lang = body.lang;
  if (!fetched) me = body.me;
  document.documentElement.lang = lang;
  document.title = t("page-title");
  $("#logout").textContent = t("page-logout");
  $("#lang").textContent = t("page-language");
  $("#live").textContent = t("page-live");
  $("#live").title = t("page-live-title");
}

// Local time in a zone as 2026-12-04 12:30:28 (the server gives *_local strings where it can).
const fmtCache = {};
function fmtTime(ms, zone = me?.time_zone || "Asia/Shanghai") {
  if (!ms) return "—";
  const f = fmtCache[zone] ||= new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}
function span(ms) {
  const a = Math.round(Math.abs(ms) / 1000), h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60);
  return h ? t("page-time-hms", { h, m, s: a % 60 }) : t("page-time-ms", { m, s: a % 60 });
}
function countdown(ms) {
  const d = ms - Date.now();
  return d >= 0 ? t("page-in", { time: span(d) }) : t("page-overdue", { time: span(d) });
}
// Live countdowns: every element with data-deadline is rewritten each second.
const tick = () => {
  for (const el of document.querySelectorAll("[data-deadline]")) el.textContent = countdown(+el.dataset.deadline);
  for (const el of document.querySelectorAll("svg.sla-bar[data-open]")) drawSla(el);
};
setInterval(tick, 1000);

async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: "same-origin", headers: { "Content-Type": "application/json" }, ...opts });
  if (res.status === 401) { me = null; showLogin(); throw new Error("401"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function showLogin(message = "") {
  $("#nav").innerHTML = ""; $("#who").textContent = ""; $("#logout").hidden = true;
  main.innerHTML = `<form class="login" id="login-form">
    <h1>${t("page-login")}</h1>
    <label for="login-user">${t("page-user")}</label><input id="login-user" name="user" autocomplete="username" required>
    <label for="login-password">${t("page-password")}</label><input id="login-password" name="password" type="password" autocomplete="current-password" required>
    <button id="login-submit" type="submit">${t("page-login")}</button>
    <div class="error" id="login-error">${esc(message)}</div></form>`;
  $("#login-form").onsubmit = async (e) => {
    e.preventDefault();
    const body = new URLSearchParams({ user: $("#login-user").value, password: $("#login-password").value });
    const res = await fetch("/login", { method: "POST", body, credentials: "same-origin" });
    if (!res.ok) { $("#login-error").textContent = (await res.json()).error; return; }
    await start();
  };
  window.hlRendered = performance.now();
}

function nav() {
  const links = { operator: [["#/operator", "page-nav-board"], ["#/", "page-nav-projects"], ["#/map", "page-nav-map"]], customer: [["#/", "page-nav-my-projects"], ["#/map", "page-nav-map"]], engineer: [["#/engineer", "page-nav-queue"]] }[me.role];
  $("#nav").innerHTML = links.map(([h, id]) => `<a href="${h}">${t(id)}</a>`).join("");
  $("#who").textContent = `${me.user} (${t("page-role-" + me.role)}${me.tenant ? ", " + me.tenant : ""})`;
  $("#logout").hidden = false;
}

const pill = (status) => `<span class="pill ${esc(status)}">${esc(t("page-status-" + status))}</span>`;

function projectCard(p) {
  const d = p.devices;
  return `<div class="card project-card" data-project="${esc(p.project_id)}" data-health="${p.health}" data-href="#/project/${encodeURIComponent(p.project_id)}">
    <h3>${esc(p.name)} <span class="badge ${p.health}">${t("page-health-" + p.health)}</span></h3>
    <div class="counts"><span>${pill("ok")} ${d.ok}</span><span>${pill("warning")} ${d.warning}</span>
    <span>${pill("down")} ${d.down}</span><span>${pill("affected")} ${d.affected}</span></div>
    <p class="muted">${t("page-open-tickets", { n: p.open_tickets, critical: p.open_by_severity[3], major: p.open_by_severity[2] })}
    · <span class="${p.sla_at_risk ? "sla-at-risk" : ""}">${t("page-sla-at-risk", { n: p.sla_at_risk })}</span></p></div>`;
}

async function viewProjects() {
  const list = await api("/api/v1/projects");
  main.innerHTML = `<h1>${t(me.role === "operator" ? "page-all-projects" : "page-my-projects")}</h1><div class="cards">${list.map(projectCard).join("") || `<p class="muted">${t("page-no-projects")}</p>`}</div>`;
}

function spark(values) {
  if (values.length < 2) return "";
  const min = Math.min(...values), max = Math.max(...values), span = max - min || 1;
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * 88 + 1},${20 - ((v - min) / span) * 18}`).join(" ");
  return `<svg class="spark" viewBox="0 0 90 22"><polyline points="${pts}"/></svg>`;
}

const finishedState = (s) => ["closed", "auto-recovered", "cancelled"].includes(s);
// The repair clock stops once the engineer reports the repair (the device then confirms it).
const repairClockStopped = (tk) =>
  finishedState(tk.state) || tk.state.startsWith("resolved") || Boolean(tk.progress && tk.progress.sla.stopped_ms);
const slaCell = (tk) => `<span class="sla-${esc(tk.sla).replace(" ", "-")}">${esc(tk.sla_label)}</span>`;

function ticketRows(tickets) {
  return tickets.map((tk) => `<tr class="ticket clickable" data-ticket="${tk.ticket_id}" data-state="${esc(tk.state)}" data-href="#/ticket/${tk.ticket_id}">
    <td>#${tk.ticket_id}</td><td>${esc(tk.title)}</td><td>${esc(tk.severity_label)}</td><td>${esc(tk.state_label)}</td>
    <td class="engineer">${esc(tk.engineer_id || t("page-unassigned"))}</td>
    <td>${slaCell(tk)}${finishedState(tk.state) ? "" : ` · <span class="countdown" data-deadline="${tk.repair_by_ms}">${countdown(tk.repair_by_ms)}</span>`}</td></tr>`).join("");
}

// Devices per page of a project's device table.
const DEVICE_PAGE = 100;

async function viewProject(id) {
  // The devices a page at a time, those with a problem first (the hub pages them): 2,000 rows
  // would take longer to fetch and draw than the whole budget for the page. From the map: one
  // site's devices and tickets.
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const site = query.get("site");
  const ask = new URLSearchParams({ page: query.get("page") || "1", per_page: DEVICE_PAGE });
  if (site) ask.set("site", site);
  const p = await api(`/api/v1/projects/${encodeURIComponent(id)}?${ask}`);
  const s = p.summary, zone = p.time_zone, dp = p.device_page;
  if (site) p.tickets = p.tickets.filter((tk) => tk.site_id === site);
  const siteNote = site ? `<p class="site-filter" id="site-filter">${esc(t("page-site-filter", { site }))} · <a href="#/project/${encodeURIComponent(id)}">${t("page-all-sites")}</a></p>` : "";
  const report = me.role === "customer" ? `<h2>${t("page-report-problem")}</h2><form class="inline" id="report-form">
      <select id="report-device"><option value="">${esc(t("page-report-find-device"))}</option>${dp.ids.map((d) => `<option value="${esc(d)}">${esc(d)}</option>`).join("")}</select>
      <input id="report-text" placeholder="${esc(t("page-report-placeholder"))}" required size="30"><button id="report-submit">${t("page-report")}</button></form>
      <div class="muted" id="report-result">${reportNote.project === id ? esc(reportNote.text) : ""}</div>` : "";
  const shown = p.devices, page = dp.page, pages = dp.pages, from = (page - 1) * dp.per_page;
  const pageLink = (n, label, cls) => { const q = new URLSearchParams(query); q.set("page", n); return `<a class="${cls}" href="#/project/${encodeURIComponent(id)}?${q}">${label}</a>`; };
  const pager = pages > 1 ? `<nav class="pages" id="device-pages" data-page="${page}" data-pages="${pages}">${page > 1 ? pageLink(page - 1, "‹ " + t("page-prev"), "prev") : ""}
    ${esc(t("page-devices-range", { from: from + 1, to: from + shown.length, total: dp.total }))}
    ${page < pages ? pageLink(page + 1, t("page-next") + " ›", "next") : ""}</nav>` : "";
  main.innerHTML = `<h1>${esc(s.name)} <span id="project-health" class="badge ${s.health}" data-health="${s.health}">${t("page-health-" + s.health)}</span></h1>
    <div class="counts">${["ok", "warning", "down", "affected", "maintenance", "unknown"].map((k) => `<span>${pill(k)} ${s.devices[k]}</span>`).join("")}</div>
    <p class="muted zone">${t("page-time-zone", { zone })}</p>${siteNote}
    <h2>${t("page-tickets")}</h2><table><thead><tr><th>#</th><th>${t("page-col-title")}</th><th>${t("page-col-severity")}</th><th>${t("page-col-state")}</th><th>${t("page-col-engineer")}</th><th>${t("page-col-sla")}</th></tr></thead>
    <tbody>${ticketRows(p.tickets) || `<tr><td colspan="6" class="muted">${t("page-no-tickets")}</td></tr>`}</tbody></table>
    <h2>${t("page-devices")}</h2>${pager}<table><thead><tr><th>${t("page-col-device")}</th><th>${t("page-col-site")}</th><th>${t("page-col-kind")}</th><th>${t("page-col-status")}</th><th>${t("page-col-last-report")}</th><th>${t("page-col-cpu")}</th></tr></thead>
    <tbody>${shown.map((d) => `<tr class="device" data-device="${esc(d.device_id)}" data-status="${d.status}"><td>${esc(d.device_id)}</td><td>${esc(d.site_id)}</td>
      <td>${esc(d.kind)}</td><td>${pill(d.status)}</td><td>${fmtTime(d.last_report_ms, zone)}</td><td class="spark-cell"></td></tr>`).join("")}</tbody></table>${report}`;
  if (me.role === "customer") {
    $("#report-form").onsubmit = async (e) => {
      e.preventDefault();
      try {
        const tk = await api(`/api/v1/projects/${encodeURIComponent(id)}/report`, { method: "POST", body: JSON.stringify({ device: $("#report-device").value, text: $("#report-text").value }) });
        reportNote = { project: id, text: t("page-report-thanks", { ticket: tk.ticket_id, state: tk.state_label }) };
      } catch (err) { reportNote = { project: id, text: err.message }; }
      // Kept across the re-render that the report's own live change brings.
      $("#report-result").textContent = reportNote.text;
    };
  }
  // The sparklines fill in after the table is drawn: their requests do not hold up its paint.
  const rows = [...main.querySelectorAll("tr.device")].slice(0, 30);
  setTimeout(() => {
    for (const row of rows) {
      api(`/api/v1/devices/${encodeURIComponent(row.dataset.device)}`).then((d) => {
        const cpu = d.metrics.filter((m) => m.name === "cpu_pct").map((m) => m.value);
        $(".spark-cell", row).innerHTML = spark(cpu);
      }).catch(() => {});
    }
  }, 0);
}

// The SLA clock as a bar: time used of opening → repair-by, frozen once the clock stopped.
function slaBar(pr) {
  const s = pr.sla;
  return `<svg class="sla-bar" id="sla-bar" viewBox="0 0 100 10" preserveAspectRatio="none" data-open="${s.opened_ms}" data-respond="${s.respond_by_ms}" data-repair="${s.repair_by_ms}" data-stopped="${s.stopped_ms ?? ""}">
    <rect class="sla-track" width="100" height="10"/><rect class="sla-used" height="10" width="0"/>
    <line class="sla-respond" x1="0" x2="0" y1="0" y2="10"/></svg>
    <div class="sla-caption"><span>${t("page-sla-clock", { at: esc(s.repair_by_local) })}</span> <b id="sla-left"></b></div>`;
}
function drawSla(svg) {
  const open = +svg.dataset.open, repair = +svg.dataset.repair, respond = +svg.dataset.respond;
  const end = svg.dataset.stopped ? +svg.dataset.stopped : Date.now();
  const used = (end - open) / Math.max(1, repair - open);
  const rect = $(".sla-used", svg);
  rect.setAttribute("width", String(Math.min(100, Math.max(0, used * 100))));
  rect.setAttribute("class", "sla-used " + (used >= 1 ? "over" : used >= 0.8 ? "risk" : "ok"));
  const x = String(((respond - open) / Math.max(1, repair - open)) * 100);
  const line = $(".sla-respond", svg); line.setAttribute("x1", x); line.setAttribute("x2", x);
  const left = $("#sla-left");
  if (left) left.textContent = svg.dataset.stopped ? t("page-sla-stopped") : repair >= end ? t("page-sla-left", { time: span(repair - end) }) : t("page-sla-over", { time: span(end - repair) });
}

function tracker(pr) {
  const steps = pr.steps.map((s) => `<li class="step ${s.done ? "done" : "pending"}" data-step="${s.step}">
      <span class="dot"></span><div><b>${esc(s.label)}</b><br><span class="muted">${s.done ? `${esc(s.at_local)} · ${esc(s.who)}` : t("page-step-pending")}</span></div></li>`).join("");
  const esc_ = pr.escalations.length ? `<h3>${t("page-escalations")}</h3><ul class="escalations">${pr.escalations.map((e) => `<li class="escalation"><time>${esc(e.at_local)}</time> ${esc(e.text)}</li>`).join("")}</ul>` : "";
  return `<section class="progress" id="progress"><h2>${t("page-progress")}</h2><ol class="steps">${steps}</ol>${slaBar(pr)}${esc_}</section>`;
}

async function viewTicket(id) {
  const tk = await api(`/api/v1/tickets/${encodeURIComponent(id)}`);
  const finished = finishedState(tk.state);
  let rating = "";
  if (me.role === "customer" && ["closed", "auto-recovered"].includes(tk.state)) {
    rating = tk.rating ? `<p id="rating">${esc(t("page-rated", { stars: tk.rating.stars, comment: tk.rating.comment }))}</p>` :
      `<h2>${t("page-rate-title")}</h2><form class="inline" id="rate-form"><select id="rate-stars">${[5, 4, 3, 2, 1].map((n) => `<option value="${n}">${"★".repeat(n)}</option>`).join("")}</select>
       <input id="rate-comment" placeholder="${esc(t("page-rate-comment"))}" size="30"><button id="rate-submit">${t("page-rate")}</button></form><div class="error" id="rate-error"></div>`;
  }
  const actions = me.role === "engineer" ? engineerButtons(tk.ticket_id, tk.state) : "";
  main.innerHTML = `<h1>#${tk.ticket_id} ${esc(tk.title)}</h1>
    <p>${t("page-ticket-state")} <b id="ticket-state" data-state="${esc(tk.state)}">${esc(tk.state_label)}</b> · ${t("page-ticket-severity")} ${esc(tk.severity_label)} · ${t("page-ticket-engineer")} <b id="ticket-engineer">${esc(tk.engineer_id || t("page-unassigned"))}</b>
    · ${t("page-ticket-sla")} ${slaCell(tk)} · ${t("page-respond-by")} ${esc(tk.respond_by_local)} · ${t("page-repair-by")} <span id="repair-by">${esc(tk.repair_by_local)}</span>${finished || tk.progress.sla.stopped_ms ? "" : ` (<span class="countdown" data-deadline="${tk.repair_by_ms}">${countdown(tk.repair_by_ms)}</span>)`}</p>
    ${actions}${tk.reason ? `<p class="muted">${esc(tk.reason)}</p>` : ""}
    ${tracker(tk.progress)}
    <h2>${t("page-device", { device: esc(tk.device_id) })}</h2><div id="device-health" class="muted">…</div>
    <h2>${t("page-timeline")}</h2><ol class="timeline">${tk.timeline.map((e) => `<li><time>${esc(e.at_local)}</time><span class="actor">${esc(e.actor_label)}${e.actor ? " " + esc(e.actor) : ""}</span>${esc(e.what)}${e.classified ? `<div class="muted classified">${esc(e.classified)}</div>` : ""}${e.matched ? `<div class="muted matched">${esc(e.matched)}</div>` : ""}</li>`).join("")}</ol>${rating}`;
  drawSla($("#sla-bar"));
  bindEngineerButtons();
  api(`/api/v1/devices/${encodeURIComponent(tk.device_id)}`).then((d) => {
    const checks = d.checks.map((c) => `<span class="pill ${{ OK: "ok", WARN: "warning", CRIT: "down" }[c.state] || "unknown"}">${esc(c.state)}</span> ${esc(c.name)}: ${esc(c.message)}`).join(" · ");
    const cpu = d.metrics.filter((m) => m.name === "cpu_pct").map((m) => m.value);
    $("#device-health").innerHTML = `${pill(d.device.status)} ${t("page-last-report", { at: fmtTime(d.device.last_report_ms, tk.time_zone) })} ${spark(cpu)}<br>${checks || t("page-no-checks")}`;
  }).catch(() => { const el = $("#device-health"); if (el) el.textContent = ""; });
  const form = $("#rate-form");
  if (form) form.onsubmit = async (e) => {
    e.preventDefault();
    try { await api(`/api/v1/tickets/${tk.ticket_id}/rate`, { method: "POST", body: JSON.stringify({ stars: +$("#rate-stars").value, comment: $("#rate-comment").value }) }); await render(); }
    catch (err) { $("#rate-error").textContent = err.message; }
  };
}

function engineerButtons(id, state) {
  const b = (cls, label, show) => (show ? `<button class="${cls}" data-ticket="${id}">${t(label)}</button>` : "");
  return `<div class="actions">${b("btn-accept", "page-accept", state === "dispatched")}${b("btn-decline secondary", "page-decline", state === "dispatched")}
    ${b("btn-onsite", "page-on-site", state === "accepted")}${b("btn-resolve", "page-resolved", state === "accepted" || state === "on site")}</div>`;
}

function bindEngineerButtons() {
  const go = async (btn, path, body) => {
    btn.disabled = true;
    try { await api(`/api/v1/tickets/${btn.dataset.ticket}/${path}`, { method: "POST", body: JSON.stringify(body || {}) }); await render(); }
    catch (err) { alert(err.message); btn.disabled = false; }
  };
  main.querySelectorAll(".btn-accept").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "accept"); }));
  main.querySelectorAll(".btn-onsite").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "onsite"); }));
  main.querySelectorAll(".btn-resolve").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "resolve", { text: prompt(t("page-ask-resolve")) || "" }); }));
  main.querySelectorAll(".btn-decline").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); const r = prompt(t("page-ask-decline")); if (r) go(b, "decline", { text: r }); }));
}

async function viewQueue() {
  const queue = await api("/api/v1/tickets?open=true");
  main.innerHTML = `<h1>${t("page-queue")}</h1><p><button id="share-position">${t("page-share-position")}</button> <span class="muted" id="position-result"></span></p><table class="queue"><thead><tr><th>#</th><th>${t("page-col-title")}</th><th>${t("page-col-state")}</th><th>${t("page-col-repair-by")}</th><th class="keep"></th></tr></thead><tbody>
    ${queue.map((tk) => `<tr class="assignment clickable" data-ticket="${tk.ticket_id}" data-state="${esc(tk.state)}" data-href="#/ticket/${tk.ticket_id}">
      <td>#${tk.ticket_id}</td><td>${esc(tk.title)}<br><span class="muted">${esc(tk.severity_label)}</span></td><td>${esc(tk.state_label)}</td>
      <td class="sla-${esc(tk.sla).replace(" ", "-")}">${esc(tk.repair_by_local.slice(5, 16))}${repairClockStopped(tk) ? "" : `<br><span class="countdown" data-deadline="${tk.repair_by_ms}">${countdown(tk.repair_by_ms)}</span>`}</td><td class="keep">${engineerButtons(tk.ticket_id, tk.state)}</td></tr>`).join("") || `<tr><td colspan="5" class="muted">${t("page-queue-empty")}</td></tr>`}</tbody></table>`;
  bindEngineerButtons();
  $("#share-position").onclick = sharePosition;
}

// The engineer's position from the phone's own geolocation (asked only on the button), sent to
// the hub; nothing else is contacted.
function sharePosition() {
  const out = $("#position-result");
  if (!navigator.geolocation) { out.textContent = t("page-position-failed", { why: "geolocation" }); return; }
  navigator.geolocation.getCurrentPosition(async (pos) => {
    try {
      const r = await api("/api/v1/engineer/position", { method: "POST", body: JSON.stringify({ lat: pos.coords.latitude, lon: pos.coords.longitude, accuracy_m: pos.coords.accuracy || 0 }) });
      out.textContent = t("page-position-sent", { at: fmtTime(r.at_ms, me.time_zone), accuracy: Math.round(r.accuracy_m) });
    } catch (err) { out.textContent = t("page-position-failed", { why: err.message }); }
  }, (err) => { out.textContent = t("page-position-failed", { why: err.message }); }, { enableHighAccuracy: true, timeout: 20000 });
}

function chart(rows, key) {
  const vals = rows.map((r) => r[key] ?? 0), max = Math.max(1, ...vals), w = 36;
  return `<svg class="chart" width="${rows.length * w + 10}" height="130">${rows.map((r, i) => {
    const h = (vals[i] / max) * 100;
    return `<rect x="${i * w + 5}" y="${110 - h}" width="${w - 8}" height="${h}"><title>${esc(r.period)}: ${vals[i]}</title></rect><text x="${i * w + 5}" y="124">${esc(r.period.slice(5))}</text>`;
  }).join("")}</svg>`;
}

async function viewOperator() {
  const period = new URLSearchParams(location.hash.split("?")[1] || "").get("period") || "day";
  const [tenants, kpi] = await Promise.all([api("/api/v1/tenants"), api(`/api/v1/kpi?period=${period}`)]);
  const total = (k) => { const v = kpi.map((r) => r[k]).filter((x) => x != null); return v.length ? v.reduce((a, b) => a + b, 0) / v.length : null; };
  const f = (v, unit = "") => (v == null ? "—" : unit === "%" ? `${(v * 100).toFixed(0)}%` : `${v.toFixed(1)}${unit}`);
  const k = (id, v) => `<div class="kpi">${t(id)}<b>${v}</b></div>`;
  main.innerHTML = `<h1>${t("page-operator-board")}</h1>
    <form class="inline">${t("page-period")} <select id="kpi-period">${["day", "week", "month"].map((p) => `<option value="${p}" ${p === period ? "selected" : ""}>${t("page-period-" + p)}</option>`).join("")}</select>
    <a href="/api/v1/kpi.csv?period=${period}" id="kpi-csv">${t("page-export-csv")}</a></form>
    <div class="kpis" id="kpis">${k("page-kpi-mttd", f(total("mttd_s"), " s"))}${k("page-kpi-mtta", f(total("mtta_s"), " s"))}${k("page-kpi-mttr", f(total("mttr_s"), " s"))}
    ${k("page-kpi-sla", f(total("sla_compliance"), "%"))}${k("page-kpi-first", f(total("detected_first"), "%"))}${k("page-kpi-repeat", f(total("repeat_rate"), "%"))}${k("page-kpi-rating", f(total("rating"), "/5"))}</div>
    <h2>${t("page-tickets-per", { period: t("page-period-" + period) })}</h2>${chart(kpi, "tickets")}
    <table><thead><tr><th>${t("page-period-" + period)}</th><th>${t("page-col-tickets")}</th><th>${t("page-col-mttd")}</th><th>${t("page-col-mtta")}</th><th>${t("page-col-mttr")}</th><th>${t("page-col-sla")}</th><th>${t("page-col-first")}</th><th>${t("page-col-repeat")}</th><th>${t("page-col-rating")}</th></tr></thead><tbody>
    ${kpi.map((r) => `<tr><td>${esc(r.period)}</td><td>${r.tickets}</td><td>${f(r.mttd_s)}</td><td>${f(r.mtta_s)}</td><td>${f(r.mttr_s)}</td><td>${f(r.sla_compliance, "%")}</td><td>${f(r.detected_first, "%")}</td><td>${f(r.repeat_rate, "%")}</td><td>${f(r.rating)}</td></tr>`).join("")}</tbody></table>
    ${tenants.map((tn) => `<h2>${esc(tn.name)}</h2><div class="cards">${tn.projects.map(projectCard).join("")}</div>`).join("")}`;
  $("#kpi-period").onchange = (e) => { location.hash = `#/operator?period=${e.target.value}`; };
}

// The site map: sites placed by their coordinates on an SVG the page draws itself (no tiles, no
// network), coloured by their worst device, with the engineers' positions; a site links to its
// devices and tickets.
// Screen points [x, y] → [x, y, x0, y0]: points within MARK_GAP of another are moved onto a
// circle around their group's centre (x0, y0 is where each really is), kept inside w × h with
// room for a label below.
const MARK_GAP = 34;
function spread(points, w, h) {
  const groups = [];
  for (const [i, [x, y]] of points.entries()) {
    const g = groups.find((g) => g.some((j) => Math.hypot(points[j][0] - x, points[j][1] - y) < MARK_GAP));
    if (g) g.push(i); else groups.push([i]);
  }
  const out = points.map(([x, y]) => [x, y, x, y]);
  for (const g of groups.filter((g) => g.length > 1)) {
    const mx = g.reduce((a, j) => a + points[j][0], 0) / g.length, my = g.reduce((a, j) => a + points[j][1], 0) / g.length;
    const r = Math.max(MARK_GAP, (MARK_GAP * g.length) / (2 * Math.PI));
    g.forEach((j, n) => {
      const a = -Math.PI / 2 + (2 * Math.PI * n) / g.length;
      const x = Math.min(w - 20, Math.max(20, mx + r * Math.cos(a))), y = Math.min(h - 36, Math.max(20, my + r * Math.sin(a)));
      out[j] = [x, y, points[j][0], points[j][1]];
    });
  }
  return out;
}

async function viewMap() {
  const m = await api("/api/v1/map");
  const placed = m.sites.filter((s) => s.location);
  const pts = [...placed.map((s) => s.location), ...m.engineers];
  const W = 1000, H = 560, pad = 60;
  let svg = "";
  if (pts.length) {
    const lats = pts.map((q) => q.lat), lons = pts.map((q) => q.lon);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2, k = Math.cos((midLat * Math.PI) / 180);
    const x0 = Math.min(...lons) * k, x1 = Math.max(...lons) * k, y0 = Math.min(...lats), y1 = Math.max(...lats);
    const span = Math.max(x1 - x0, y1 - y0, 0.01), sc = Math.min((W - 2 * pad) / span, (H - 2 * pad) / span);
    const cx = (W - (x1 - x0) * sc) / 2, cy = (H - (y1 - y0) * sc) / 2;
    const xy = (q) => [cx + (q.lon * k - x0) * sc, H - (cy + (q.lat - y0) * sc)];
    const grid = [1, 2, 3, 4].map((i) => `<line class="grid" x1="${(i * W) / 5}" y1="0" x2="${(i * W) / 5}" y2="${H}"/><line class="grid" x1="0" y1="${(i * H) / 5}" x2="${W}" y2="${(i * H) / 5}"/>`).join("");
    // Marks closer than a marker's size are spread around their common centre, each with a line
    // to where it really is, so that none hides another.
    const at = spread([...placed.map((s) => xy(s.location)), ...m.engineers.map(xy)], W, H);
    const leader = ([x, y, x0, y0]) => (x === x0 && y === y0 ? "" : `<line class="leader" x1="${x0.toFixed(1)}" y1="${y0.toFixed(1)}" x2="${x.toFixed(1)}" y2="${y.toFixed(1)}"/><circle class="true-pos" cx="${x0.toFixed(1)}" cy="${y0.toFixed(1)}" r="3"/>`);
    const sites = placed.map((s, i) => {
      const [x, y] = at[i];
      return `${leader(at[i])}<g class="site" data-spread="${at[i][0] !== at[i][2] || at[i][1] !== at[i][3]}" data-site="${esc(s.site_id)}" data-status="${esc(s.status)}" data-href="#/project/${encodeURIComponent(s.project_id)}?site=${encodeURIComponent(s.site_id)}">
        <circle class="st-${esc(s.status)}" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="16"/><text x="${(x + 22).toFixed(1)}" y="${(y + 5).toFixed(1)}">${esc(s.name)}${s.open_tickets ? " · " + esc(t("page-map-open", { n: s.open_tickets })) : ""}</text>
        <title>${esc(s.name)}: ${esc(t("page-status-" + s.status))}</title></g>`;
    }).join("");
    const engineers = m.engineers.map((e, i) => {
      const [x, y] = at[placed.length + i];
      // A reported fix: its name and local time, its accuracy as a ring, grey once stale.
      const label = e.reported ? t("page-map-engineer-at", { name: e.name, at: e.at_local.slice(5, 16) }) + (e.stale ? " " + t("page-map-engineer-stale") : "") : e.name;
      const ring = e.reported && e.accuracy_m ? `<circle class="accuracy" cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${Math.min(40, Math.max(14, (e.accuracy_m / 111000) * sc)).toFixed(1)}"/>` : "";
      return `${leader(at[placed.length + i])}<g class="engineer-pos${e.reported ? " reported" : ""}${e.stale ? " stale" : ""}" data-engineer="${esc(e.engineer_id)}" data-stale="${e.stale}" data-spread="${x !== at[placed.length + i][2] || y !== at[placed.length + i][3]}">${ring}<path d="M${x.toFixed(1)} ${(y - 11).toFixed(1)} l9 18 h-18 z"/><text x="${(x - 10).toFixed(1)}" y="${(y + 26).toFixed(1)}">${esc(label)}</text></g>`;
    }).join("");
    svg = `<svg class="site-map" id="site-map" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(t("page-map"))}"><rect class="sea" width="${W}" height="${H}"/>${grid}${sites}${engineers}</svg>`;
  }
  const unplaced = m.sites.filter((s) => !s.location);
  const legend = ["ok", "warning", "down", "affected", "maintenance", "unknown"].map((k) => pill(k)).join(" ");
  main.innerHTML = `<h1>${t("page-map")}</h1>${svg}<p class="legend">${legend}${m.engineers.some((e) => !e.reported) ? ` <span class="engineer-key">▲ ${t("page-map-engineer")}</span>` : ""}${m.engineers.some((e) => e.reported) ? ` <span class="engineer-key reported">▲ ${t("page-map-engineer-reported")}</span>` : ""}</p>
    ${unplaced.length ? `<h2>${t("page-map-no-location")}</h2><ul>${unplaced.map((s) => `<li><a href="#/project/${encodeURIComponent(s.project_id)}?site=${encodeURIComponent(s.site_id)}">${esc(s.name)}</a> ${pill(s.status)}</li>`).join("")}</ul>` : ""}`;
}

// The answer to the customer's last problem report, shown until the page shows another project.
let reportNote = { project: null, text: "" };

async function render() {
  if (!me) return;
  const [path] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "project") await viewProject(parts[1]);
    else if (parts[0] === "ticket") await viewTicket(parts[1]);
    else if (parts[0] === "engineer" || me.role === "engineer") await viewQueue();
    else if (parts[0] === "operator") await viewOperator();
    else if (parts[0] === "map") await viewMap();
    else await viewProjects();
    if (window.hlRendered === null) window.hlRendered = performance.now();
  } catch (err) { if (me) main.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
}

let source = null;
function listen() {
  if (source) source.close();
  source = new EventSource("/api/v1/events");
  source.onopen = () => { $("#live").className = "live on"; };
  source.onerror = () => { $("#live").className = "live off"; };
  let pending = null;
  const soon = () => { clearTimeout(pending); pending = setTimeout(render, 30); };
  source.addEventListener("change", soon);
  source.addEventListener("reload", soon);
}

// Logged in: the page came with `me` (or the login just happened); live updates start once the
// first view is drawn.
async function start(known = false) {
  if (!known) { try { me = await api("/api/v1/me"); } catch { return; } }
  if (!me) { showLogin(); return; }
  nav();
  await render();
  listen();
}

// The language switch: remembered in a cookie for a year; the page's words and the API's
// human-readable fields follow it.
$("#lang").onclick = async () => {
  const next = lang === "zh-CN" ? "en" : "zh-CN";
  document.cookie = `hl_lang=${next}; path=/; max-age=31536000; SameSite=Lax`;
  await loadMessages(true);
  if (me) { nav(); await render(); } else showLogin();
};
$("#logout").onclick = async () => { await fetch("/logout", { method: "POST", credentials: "same-origin" }); me = null; if (source) source.close(); location.hash = "#/"; showLogin(); };
window.addEventListener("hashchange", render);
// Leaving the page closes the live stream at once: a kept-open stream of a page the browser
// holds on to takes one of its few connections to the hub.
window.addEventListener("pagehide", () => { if (source) { source.close(); source = null; } });
// Rows and cards link by data-href (no inline handlers: the page's CSP forbids them).
main.addEventListener("click", (e) => {
  const el = e.target.closest("[data-href]");
  if (el && !e.target.closest("button")) location.hash = el.dataset.href;
});
loadMessages().then(() => start(true));
