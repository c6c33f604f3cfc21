// Heartline project view: a small single-page app over /api/v1, live through /api/v1/events.
"use strict";
const $ = (sel, el = document) => el.querySelector(sel);
const main = $("#main");
let me = null;
let rerender = null;

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const fmtTime = (ms) => (ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + "Z" : "—");
function countdown(ms) {
  const s = Math.round((ms - Date.now()) / 1000);
  const a = Math.abs(s), h = Math.floor(a / 3600), m = Math.floor((a % 3600) / 60);
  const txt = h ? `${h}h ${m}m` : `${m}m ${a % 60}s`;
  return s >= 0 ? `in ${txt}` : `${txt} ago`;
}

async function api(path, opts = {}) {
  const res = await fetch(path, { credentials: "same-origin", headers: { "Content-Type": "application/json" }, ...opts });
  if (res.status === 401) { me = null; showLogin(); throw new Error("not logged in"); }
  const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function showLogin(message = "") {
  $("#nav").innerHTML = ""; $("#who").textContent = ""; $("#logout").hidden = true;
  main.innerHTML = `<form class="login" id="login-form">
    <h1>Log in</h1>
    <label for="login-user">User</label><input id="login-user" name="user" autocomplete="username" required>
    <label for="login-password">Password</label><input id="login-password" name="password" type="password" autocomplete="current-password" required>
    <button id="login-submit" type="submit">Log in</button>
    <div class="error" id="login-error">${esc(message)}</div></form>`;
  $("#login-form").onsubmit = async (e) => {
    e.preventDefault();
    const body = new URLSearchParams({ user: $("#login-user").value, password: $("#login-password").value });
    const res = await fetch("/login", { method: "POST", body, credentials: "same-origin" });
    if (!res.ok) { $("#login-error").textContent = (await res.json()).error; return; }
    await start();
  };
}

function nav() {
  const links = { operator: [["#/operator", "Board"], ["#/", "Projects"]], customer: [["#/", "My projects"]], engineer: [["#/engineer", "My queue"]] }[me.role];
  $("#nav").innerHTML = links.map(([h, t]) => `<a href="${h}">${t}</a>`).join("");
  $("#who").textContent = `${me.user} (${me.role}${me.tenant ? ", " + me.tenant : ""})`;
  $("#logout").hidden = false;
}

const pill = (status) => `<span class="pill ${esc(status)}">${esc(status)}</span>`;

function projectCard(p) {
  const d = p.devices;
  return `<div class="card project-card" data-project="${esc(p.project_id)}" data-health="${p.health}" data-href="#/project/${encodeURIComponent(p.project_id)}">
    <h3>${esc(p.name)} <span class="badge ${p.health}">${p.health}</span></h3>
    <div class="counts"><span>${pill("ok")} ${d.ok}</span><span>${pill("warning")} ${d.warning}</span>
    <span>${pill("down")} ${d.down}</span><span>${pill("affected")} ${d.affected}</span></div>
    <p class="muted">${p.open_tickets} open ticket${p.open_tickets === 1 ? "" : "s"} (critical ${p.open_by_severity[3]}, major ${p.open_by_severity[2]})
    · <span class="${p.sla_at_risk ? "sla-at-risk" : ""}">${p.sla_at_risk} SLA at risk</span></p></div>`;
}

async function viewProjects() {
  const list = await api("/api/v1/projects");
  main.innerHTML = `<h1>${me.role === "operator" ? "All projects" : "My projects"}</h1><div class="cards">${list.map(projectCard).join("") || '<p class="muted">No projects.</p>'}</div>`;
}

function spark(values) {
  if (values.length < 2) return "";
  const min = Math.min(...values), max = Math.max(...values), span = max - min || 1;
  const pts = values.map((v, i) => `${(i / (values.length - 1)) * 88 + 1},${20 - ((v - min) / span) * 18}`).join(" ");
  return `<svg class="spark" viewBox="0 0 90 22"><polyline points="${pts}"/></svg>`;
}

function ticketRows(tickets) {
  return tickets.map((t) => `<tr class="ticket clickable" data-ticket="${t.ticket_id}" data-state="${esc(t.state)}" data-href="#/ticket/${t.ticket_id}">
    <td>#${t.ticket_id}</td><td>${esc(t.title)}</td><td>${esc(t.severity)}</td><td>${esc(t.state)}</td>
    <td class="engineer">${esc(t.engineer_id || "unassigned")}</td>
    <td class="sla-${esc(t.sla).replace(" ", "-")}">${esc(t.sla)}${t.state.startsWith("closed") || t.state === "auto-recovered" ? "" : " · repair " + countdown(t.repair_by_ms)}</td></tr>`).join("");
}

async function viewProject(id) {
  const p = await api(`/api/v1/projects/${encodeURIComponent(id)}`);
  const s = p.summary;
  const report = me.role === "customer" ? `<h2>Report a problem</h2><form class="inline" id="report-form">
      <select id="report-device">${p.devices.map((d) => `<option>${esc(d.device_id)}</option>`).join("")}</select>
      <input id="report-text" placeholder="What is wrong?" required size="30"><button id="report-submit">Report</button></form>
      <div class="muted" id="report-result"></div>` : "";
  main.innerHTML = `<h1>${esc(s.name)} <span id="project-health" class="badge ${s.health}" data-health="${s.health}">${s.health}</span></h1>
    <div class="counts">${["ok", "warning", "down", "affected", "maintenance", "unknown"].map((k) => `<span>${pill(k)} ${s.devices[k]}</span>`).join("")}</div>
    <h2>Tickets</h2><table><thead><tr><th>#</th><th>Title</th><th>Severity</th><th>State</th><th>Engineer</th><th>SLA</th></tr></thead>
    <tbody>${ticketRows(p.tickets) || '<tr><td colspan="6" class="muted">No tickets.</td></tr>'}</tbody></table>
    <h2>Devices</h2><table><thead><tr><th>Device</th><th>Site</th><th>Kind</th><th>Status</th><th>Last report</th><th>CPU</th></tr></thead>
    <tbody>${p.devices.map((d) => `<tr class="device" data-device="${esc(d.device_id)}" data-status="${d.status}"><td>${esc(d.device_id)}</td><td>${esc(d.site_id)}</td>
      <td>${esc(d.kind)}</td><td>${pill(d.status)}</td><td>${fmtTime(d.last_report_ms)}</td><td class="spark-cell"></td></tr>`).join("")}</tbody></table>${report}`;
  if (me.role === "customer") {
    $("#report-form").onsubmit = async (e) => {
      e.preventDefault();
      try {
        const t = await api(`/api/v1/projects/${encodeURIComponent(id)}/report`, { method: "POST", body: JSON.stringify({ device: $("#report-device").value, text: $("#report-text").value }) });
        $("#report-result").textContent = `Thank you: ticket #${t.ticket_id} (${t.state}).`;
      } catch (err) { $("#report-result").textContent = err.message; }
    };
  }
  for (const row of [...main.querySelectorAll("tr.device")].slice(0, 30)) {
    api(`/api/v1/devices/${encodeURIComponent(row.dataset.device)}`).then((d) => {
      const cpu = d.metrics.filter((m) => m.name === "cpu_pct").map((m) => m.value);
      $(".spark-cell", row).innerHTML = spark(cpu);
    }).catch(() => {});
  }
}

async function viewTicket(id) {
  const t = await api(`/api/v1/tickets/${encodeURIComponent(id)}`);
  const finished = ["closed", "auto-recovered"].includes(t.state);
  let rating = "";
  if (me.role === "customer" && finished) {
    rating = t.rating ? `<p id="rating">Rated ${t.rating.stars}/5 ${esc(t.rating.comment)}</p>` :
      `<h2>Rate this repair</h2><form class="inline" id="rate-form"><select id="rate-stars">${[5, 4, 3, 2, 1].map((n) => `<option value="${n}">${"★".repeat(n)}</option>`).join("")}</select>
       <input id="rate-comment" placeholder="Comment (optional)" size="30"><button id="rate-submit">Rate</button></form><div class="error" id="rate-error"></div>`;
  }
  const actions = me.role === "engineer" ? engineerButtons(t.ticket_id, t.state) : "";
  main.innerHTML = `<h1>#${t.ticket_id} ${esc(t.title)}</h1>
    <p>State <b id="ticket-state">${esc(t.state)}</b> · severity ${esc(t.severity)} · engineer <b id="ticket-engineer">${esc(t.engineer_id || "unassigned")}</b>
    · SLA <span class="sla-${esc(t.sla).replace(" ", "-")}">${esc(t.sla)}</span> · respond by ${fmtTime(t.respond_by_ms)} · repair by ${fmtTime(t.repair_by_ms)}${finished ? "" : ` (${countdown(t.repair_by_ms)})`}</p>
    ${actions}${t.reason ? `<p class="muted">${esc(t.reason)}</p>` : ""}
    <h2>Device ${esc(t.device_id)}</h2><div id="device-health" class="muted">…</div>
    <h2>Timeline</h2><ol class="timeline">${t.timeline.map((e) => `<li><time>${fmtTime(e.at_ms)}</time><span class="actor">${esc(e.actor_kind)}${e.actor ? " " + esc(e.actor) : ""}</span>${esc(e.what)}</li>`).join("")}</ol>${rating}`;
  bindEngineerButtons();
  api(`/api/v1/devices/${encodeURIComponent(t.device_id)}`).then((d) => {
    const checks = d.checks.map((c) => `<span class="pill ${{ OK: "ok", WARN: "warning", CRIT: "down" }[c.state] || "unknown"}">${esc(c.state)}</span> ${esc(c.name)}: ${esc(c.message)}`).join(" · ");
    const cpu = d.metrics.filter((m) => m.name === "cpu_pct").map((m) => m.value);
    $("#device-health").innerHTML = `${pill(d.device.status)} last report ${fmtTime(d.device.last_report_ms)} ${spark(cpu)}<br>${checks || "no checks reported"}`;
  }).catch(() => { const el = $("#device-health"); if (el) el.textContent = ""; });
  const form = $("#rate-form");
  if (form) form.onsubmit = async (e) => {
    e.preventDefault();
    try { await api(`/api/v1/tickets/${t.ticket_id}/rate`, { method: "POST", body: JSON.stringify({ stars: +$("#rate-stars").value, comment: $("#rate-comment").value }) }); await render(); }
    catch (err) { $("#rate-error").textContent = err.message; }
  };
}

function engineerButtons(id, state) {
  const b = (cls, label, show) => (show ? `<button class="${cls}" data-ticket="${id}">${label}</button>` : "");
  return `<div class="actions">${b("btn-accept", "Accept", state === "dispatched")}${b("btn-decline secondary", "Decline", state === "dispatched")}
    ${b("btn-onsite", "On site", state === "accepted")}${b("btn-resolve", "Resolved", state === "accepted" || state === "on site")}</div>`;
}

function bindEngineerButtons() {
  const go = async (btn, path, body) => {
    btn.disabled = true;
    try { await api(`/api/v1/tickets/${btn.dataset.ticket}/${path}`, { method: "POST", body: JSON.stringify(body || {}) }); await render(); }
    catch (err) { alert(err.message); btn.disabled = false; }
  };
  main.querySelectorAll(".btn-accept").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "accept"); }));
  main.querySelectorAll(".btn-onsite").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "onsite"); }));
  main.querySelectorAll(".btn-resolve").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); go(b, "resolve", { text: prompt("What did you do?") || "" }); }));
  main.querySelectorAll(".btn-decline").forEach((b) => (b.onclick = (e) => { e.stopPropagation(); const r = prompt("Why do you decline?"); if (r) go(b, "decline", { text: r }); }));
}

async function viewQueue() {
  const queue = await api("/api/v1/tickets?open=true");
  main.innerHTML = `<h1>My queue</h1><table><thead><tr><th>#</th><th>Title</th><th>Severity</th><th>State</th><th>Repair by</th><th></th></tr></thead><tbody>
    ${queue.map((t) => `<tr class="assignment clickable" data-ticket="${t.ticket_id}" data-state="${esc(t.state)}" data-href="#/ticket/${t.ticket_id}">
      <td>#${t.ticket_id}</td><td>${esc(t.title)}</td><td>${esc(t.severity)}</td><td>${esc(t.state)}</td>
      <td class="sla-${esc(t.sla).replace(" ", "-")}">${countdown(t.repair_by_ms)}</td><td>${engineerButtons(t.ticket_id, t.state)}</td></tr>`).join("") || '<tr><td colspan="6" class="muted">Nothing dispatched to you.</td></tr>'}</tbody></table>`;
  bindEngineerButtons();
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
  main.innerHTML = `<h1>Operator board</h1>
    <form class="inline">Period <select id="kpi-period">${["day", "week", "month"].map((p) => `<option ${p === period ? "selected" : ""}>${p}</option>`).join("")}</select>
    <a href="/api/v1/kpi.csv?period=${period}" id="kpi-csv">Export CSV</a></form>
    <div class="kpis" id="kpis"><div class="kpi">MTTD<b>${f(total("mttd_s"), " s")}</b></div><div class="kpi">MTTA<b>${f(total("mtta_s"), " s")}</b></div>
    <div class="kpi">MTTR<b>${f(total("mttr_s"), " s")}</b></div><div class="kpi">SLA compliance<b>${f(total("sla_compliance"), "%")}</b></div>
    <div class="kpi">Detected before customer<b>${f(total("detected_first"), "%")}</b></div><div class="kpi">Repeat faults<b>${f(total("repeat_rate"), "%")}</b></div>
    <div class="kpi">Rating<b>${f(total("rating"), "/5")}</b></div></div>
    <h2>Tickets per ${period}</h2>${chart(kpi, "tickets")}
    <table><thead><tr><th>${period}</th><th>Tickets</th><th>MTTD s</th><th>MTTA s</th><th>MTTR s</th><th>SLA</th><th>Before customer</th><th>Repeat</th><th>Rating</th></tr></thead><tbody>
    ${kpi.map((r) => `<tr><td>${esc(r.period)}</td><td>${r.tickets}</td><td>${f(r.mttd_s)}</td><td>${f(r.mtta_s)}</td><td>${f(r.mttr_s)}</td><td>${f(r.sla_compliance, "%")}</td><td>${f(r.detected_first, "%")}</td><td>${f(r.repeat_rate, "%")}</td><td>${f(r.rating)}</td></tr>`).join("")}</tbody></table>
    ${tenants.map((t) => `<h2>${esc(t.name)}</h2><div class="cards">${t.projects.map(projectCard).join("")}</div>`).join("")}`;
  $("#kpi-period").onchange = (e) => { location.hash = `#/operator?period=${e.target.value}`; };
}

async function render() {
  if (!me) return;
  const [path] = location.hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  try {
    if (parts[0] === "project") await viewProject(parts[1]);
    else if (parts[0] === "ticket") await viewTicket(parts[1]);
    else if (parts[0] === "engineer" || me.role === "engineer") await viewQueue();
    else if (parts[0] === "operator") await viewOperator();
    else await viewProjects();
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

async function start() {
  try { me = await api("/api/v1/me"); } catch { return; }
  nav();
  listen();
  await render();
}

$("#logout").onclick = async () => { await fetch("/logout", { method: "POST", credentials: "same-origin" }); me = null; if (source) source.close(); location.hash = "#/"; showLogin(); };
window.addEventListener("hashchange", render);
// Rows and cards link by data-href (no inline handlers: the page's CSP forbids them).
main.addEventListener("click", (e) => {
  const el = e.target.closest("[data-href]");
  if (el && !e.target.closest("button")) location.hash = el.dataset.href;
});
start();
