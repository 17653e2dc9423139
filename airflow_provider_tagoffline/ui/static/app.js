/* Tag Offline Services: the web view. Plain JavaScript, no build step.
 *
 * Routes (location.hash): #/ list, #/new, #/edit/NAME, #/service/NAME, #/service/NAME/instances,
 * #/catalog. Every call goes to the REST API of this plugin (../ relative to this page) with the
 * Airflow UI's _token cookie; errors come back as {detail: [{field, message}], status}.
 *
 * Inside Airflow's UI the page is an iframe of /plugin/tag-offline/...: each route is written into
 * Airflow's address bar (so a page can be bookmarked, shared and reloaded), and links to Airflow's
 * own pages are followed by Airflow's router (the iframe's sandbox forbids navigating the top page).
 */
"use strict";

const API = new URL("../", location.href).pathname.replace(/\/$/, "");
const FORMATS = ["yyyyMMdd", "yyyy-MM-dd", "yyyy/MM/dd", "yyyy.MM.dd"];
const TASK_STATUSES = ["editing", "publishing", "published", "publish_failed", "unpublishing", "offline", "unpublish_failed"];
const EXEC_STATUSES = ["none", "queued", "waiting_for_data", "running", "up_for_retry", "success", "failed"];
// Airflow states of a run that is not over yet (the instances page polls while one is shown)
const LIVE_STATES = ["queued", "scheduled", "running", "deferred", "up_for_retry", "up_for_reschedule", "restarting"];
const TIMEZONES = ["UTC", "Asia/Shanghai", "Asia/Tokyo", "Asia/Singapore", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles"];
const PAGE_SIZE = 20;

const state = { me: null, applications: [], entities: [], kinds: [], timer: null, route: 0 };

// Pages load asynchronously: a page whose route is no longer current must not touch the screen.
function stale(routeId) { return routeId !== state.route; }

function poll(routeId, fn, ms) {
  clearInterval(state.timer);
  state.timer = null;
  if (ms && !stale(routeId)) state.timer = setInterval(() => { if (!stale(routeId)) fn(); }, ms);
}

// ---- small helpers ---------------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "value") el.value = v;
    else if (k === "checked") el.checked = !!v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function mount(parent, ...children) {
  parent.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function option(value, label, selected) {
  return h("option", { value, selected: selected ? "selected" : null }, label ?? value);
}

function toast(message, bad) {
  const box = h("div", { class: bad ? "bad" : "" }, message);
  document.getElementById("toast").append(box);
  setTimeout(() => box.remove(), bad ? 8000 : 4000);
}

function yesterday() {
  const d = new Date(Date.now() - 86400000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

function fmtTime(iso) {
  return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("+00:00", " UTC") : "";
}

async function api(method, path, body) {
  // The API refuses cookie-authenticated writes without this header (a cross-site form cannot send it).
  const init = { method, credentials: "same-origin", headers: { "X-Tag-Offline-Client": "web-view" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch(API + path, init);
  let data = null;
  if (resp.status !== 204) {
    try { data = await resp.json(); } catch (e) { data = null; }
  }
  if (resp.status === 401) {
    renderSignedOut();
    throw new ApiError(401, data);
  }
  if (!resp.ok) throw new ApiError(resp.status, data);
  return data;
}

class ApiError extends Error {
  constructor(status, data) {
    const details = (data && Array.isArray(data.detail)) ? data.detail : [{ field: "", message: `HTTP ${status}` }];
    super(details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)).join("; "));
    this.status = status;
    this.details = details;
  }
}

function renderSignedOut() {
  const app = document.getElementById("app");
  app.replaceChildren(h("p", {}, "You are not signed in to Airflow. ",
    h("a", { href: "/", target: "_top", "data-airflow": "" }, "Sign in"), " and open Tag Offline Services again."));
}

const enc = encodeURIComponent;

// ---- inside Airflow's UI ---------------------------------------------------------------------

// Airflow's window when this page is its plugin iframe (same origin, at /plugin/<route>/...), else null.
function airflowWindow() {
  try {
    const top = window.parent;
    if (top === window || !/\/plugin\/[^/]+/.test(top.location.pathname)) return null;
    return top;
  } catch (e) {
    return null;  // another origin: not Airflow's UI
  }
}

// The address of the current route: Airflow's /plugin/<route>/<this page's path>#<route> when embedded
// (what Airflow opens this page at after a reload), else this page's own.
function shareableUrl() {
  const top = airflowWindow();
  const own = location.pathname + location.search + location.hash;
  if (!top) return location.href;
  const base = top.location.pathname.match(/^(.*?\/plugin\/[^/]+)/)[1];
  return top.location.origin + base + own;
}

// Airflow mirrors the iframe's address into its own only when a page loads; a hash route loads none,
// so each route writes itself into Airflow's address bar (its router's history state kept as it is).
function syncAirflowAddress() {
  const top = airflowWindow();
  if (!top) return;
  const url = new URL(shareableUrl());
  const want = url.pathname + url.search + url.hash;
  if (top.location.pathname + top.location.search + top.location.hash !== want) {
    top.history.replaceState(top.history.state, "", want);
  }
}

// A link to Airflow's own pages (task log, DAG): Airflow's router follows it when embedded.
function openInAirflow(href) {
  const top = airflowWindow();
  if (!top) { location.href = href; return; }
  const url = new URL(href, top.location.href);
  top.history.pushState(null, "", url.pathname + url.search + url.hash);
  top.dispatchEvent(new PopStateEvent("popstate", { state: null }));
}

document.addEventListener("click", (ev) => {
  const a = ev.target.closest && ev.target.closest("a[data-airflow]");
  if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || !airflowWindow()) return;
  ev.preventDefault();
  openInAirflow(a.href);
});

async function copyLink() {
  const url = shareableUrl();
  try {
    await navigator.clipboard.writeText(url);
    toast(`Link copied: ${url}`);
  } catch (e) {
    window.prompt("Copy this link", url);
  }
}

// ---- shell and routing -----------------------------------------------------------------------

async function boot() {
  try {
    state.me = await api("GET", "/me");
  } catch (e) {
    if (e.status !== 401) document.getElementById("app").textContent = e.message;
    return;
  }
  document.getElementById("whoami").textContent = `${state.me.username}${state.me.is_admin ? " (admin)" : ""}`;
  document.getElementById("copy-link").addEventListener("click", copyLink);
  const [apps, entities, kinds] = await Promise.all([api("GET", "/catalog/applications"), api("GET", "/catalog/entities"),
    api("GET", "/kinds")]);
  state.applications = apps;
  state.entities = entities;
  state.kinds = kinds;  // target kinds: the server's registry of database families
  window.addEventListener("hashchange", route);
  route();
}

function route() {
  clearInterval(state.timer);
  state.timer = null;
  state.route += 1;
  const hash = location.hash.replace(/^#/, "") || "/";
  const parts = hash.split("/").filter(Boolean).map(decodeURIComponent);
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("active",
    (a.dataset.nav === "catalog") === (parts[0] === "catalog")));
  syncAirflowAddress();
  const main = document.getElementById("app");
  let page;
  if (parts.length === 0) page = listPage(main);
  else if (parts[0] === "new") page = formPage(main, null);
  else if (parts[0] === "edit" && parts[1]) page = formPage(main, parts[1]);
  else if (parts[0] === "service" && parts[1] && parts[2] === "instances") page = instancesPage(main, parts[1]);
  else if (parts[0] === "service" && parts[1]) page = detailsPage(main, parts[1]);
  else if (parts[0] === "catalog") page = catalogPage(main);
  else page = listPage(main);
  Promise.resolve(page).catch((e) => { if (e.status !== 401) mount(main, h("p", { class: "error" }, e.message)); });
}

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

// ---- actions (list, details) -----------------------------------------------------------------

const ACTION_LABELS = { edit: "Edit", publish: "Publish", unpublish: "Unpublish", run: "Run", backfill: "Backfill",
  instances: "Instances", preview: "Preview", delete: "Delete" };

// The API says which actions the caller may take now and, for each other one, why not (the refusal
// clicking would get): the buttons show that, and restate no rule. Instances are a read: always on.
function actionButtons(svc, onDone) {
  const order = ["edit", "publish", "unpublish", svc.schedule_type === "manual" ? "run" : "backfill", "instances", "preview", "delete"];
  return order.map((action) => {
    // preview: allowed in every status, so the API says only who may not (preview_refusal)
    const allowed = action === "instances" || (action === "preview" ? !svc.preview_refusal : svc.actions.includes(action));
    return h("button", {
      class: `icon${action === "delete" ? " danger" : ""}`, type: "button", disabled: !allowed,
      title: allowed ? `${ACTION_LABELS[action]} ${svc.name}` : (action === "preview" ? svc.preview_refusal : svc.refusals[action]),
      dataset: { action, service: svc.name },
      onclick: () => doAction(action, svc, onDone),
    }, ACTION_LABELS[action]);
  });
}

async function doAction(action, svc, onDone) {
  const name = svc.name;
  try {
    if (action === "edit") return go(`#/edit/${enc(name)}`);
    if (action === "instances") return go(`#/service/${enc(name)}/instances`);
    if (action === "preview") {
      return previewDialog(`Preview ${name}`, svc.default_data_date || yesterday(),
        (q) => api("GET", `/services/${enc(name)}/preview?${new URLSearchParams(q)}`));
    }
    if (action === "publish") {
      const r = await api("POST", `/services/${enc(name)}/publish`);
      toast(`${name}: ${r.status}${r.message ? " — " + r.message : ""}`);
    } else if (action === "unpublish") {
      if (!await confirmDialog(`Unpublish ${name}?`, "The DAG is paused and removed from Airflow with its run history; the target table stays.")) return;
      const r = await api("POST", `/services/${enc(name)}/unpublish`);
      toast(`${name}: ${r.status}${r.message ? " — " + r.message : ""}`, r.status !== "offline");
    } else if (action === "delete") {
      if (!await confirmDialog(`Delete ${name}?`, "The service is removed; its history stays in the audit log.")) return;
      await api("DELETE", `/services/${enc(name)}`);
      toast(`${name} deleted`);
    } else if (action === "run") {
      const values = await formDialog(`Run ${name}`, [
        { name: "data_date", label: "Data date", type: "date", value: svc.default_data_date || yesterday() },
        { name: "allow_older", label: "Allow an older data date", type: "checkbox",
          hint: "A whole-table target holds one data date; an older one is refused unless this is checked." }]);
      if (!values) return;
      const r = await api("POST", `/services/${enc(name)}/run`, values);
      toast(r.message || `run queued for ${r.data_date}`);
    } else if (action === "backfill") {
      // The server's plan gives the defaults (T-1 in the service's timezone) and says, before anything
      // starts, what a whole-table target will end at.
      const plan = await api("GET", `/services/${enc(name)}/backfill/plan`);
      let asked = 0;  // answers may come back out of order: only the latest question's is shown
      const values = await formDialog(`Backfill ${name}`, [
        { name: "start", label: "First data date", type: "date", value: plan.start },
        { name: "end", label: "Last data date", type: "date", value: plan.end },
        { name: "allow_older", label: "Allow an older data date", type: "checkbox",
          hint: "Needed when the backfill goes back before the data date a whole-table target holds." }],
      async (v, note) => {
        if (!v.start || !v.end) return;
        const mine = ++asked;
        try {
          const p = await api("GET", `/services/${enc(name)}/backfill/plan?${new URLSearchParams({ start: v.start, end: v.end })}`);
          if (mine !== asked) return;
          // Airflow's own dry run: the runs it will create, and each date of the range it leaves out with why
          note.replaceChildren(p.warning ? h("span", { class: p.needs_allow_older && !v.allow_older ? "error" : "warn" }, p.warning,
            p.needs_allow_older && !v.allow_older ? ". Check “Allow an older data date” to run it." : ".") : "",
          h("span", { class: "muted", "data-runs": p.runs },
            ` ${p.runs} run(s)${p.data_dates.length ? ": " + p.data_dates.join(", ") : ""}, oldest first.`),
          p.skipped.length ? h("ul", { class: "skipped" }, p.skipped.map((s) =>
            h("li", { class: "warn", "data-skipped": s.data_date }, `${s.data_date} not run: ${s.reason}.`))) : "");
        } catch (e) {
          if (mine === asked) note.replaceChildren(h("span", { class: "error" }, e.message));
        }
      });
      if (!values) return;
      const r = await api("POST", `/services/${enc(name)}/backfill`, values);
      toast(r.message || `backfill of ${r.start} to ${r.end} created`);
      if (r.warning) toast(r.warning);
    }
  } catch (e) {
    toast(e.message, true);
  }
  if (onDone) onDone();
}

function confirmDialog(title, text) {
  const dlg = document.getElementById("dialog");
  return new Promise((resolve) => {
    dlg.replaceChildren(h("form", { method: "dialog" },
      h("h2", {}, title), h("p", {}, text),
      h("div", { class: "row" }, h("span", { class: "spacer" }),
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "primary", "data-confirm": "ok" }, "Confirm"))));
    dlg.onclose = () => resolve(dlg.returnValue === "ok");
    dlg.showModal();
  });
}

// A dialog of date or text inputs and checkboxes; ``onChange(values, note)`` may say something about the
// values in the note below them (called once at the start). Resolves to the values, or null.
function formDialog(title, fields, onChange) {
  const dlg = document.getElementById("dialog");
  return new Promise((resolve) => {
    const inputs = fields.map((f) => f.type === "checkbox"
      ? h("input", { type: "checkbox", name: f.name, id: `dlg-${f.name}`, checked: !!f.value })
      : h("input", { type: f.type, name: f.name, id: `dlg-${f.name}`, value: f.value, required: true }));
    const values = () => Object.fromEntries(inputs.map((i) => [i.name, i.type === "checkbox" ? i.checked : i.value]));
    const note = h("p", { id: "dlg-note" });
    dlg.replaceChildren(h("form", { method: "dialog" },
      h("h2", {}, title),
      h("div", { class: "grid" }, fields.map((f, i) => f.type === "checkbox"
        ? [h("span", {}), h("div", { class: "field" }, h("label", { for: `dlg-${f.name}` }, inputs[i], ` ${f.label}`),
          f.hint ? h("span", { class: "muted" }, f.hint) : null)]
        : [h("label", { for: `dlg-${f.name}` }, f.label), inputs[i]])),
      fields.some((f) => f.type === "date") ? h("p", { class: "muted" }, "Default: yesterday (T-1) in the service's timezone.") : null,
      note,
      h("div", { class: "row" }, h("span", { class: "spacer" }),
        h("button", { value: "cancel", type: "submit", formnovalidate: true }, "Cancel"),
        h("button", { value: "ok", type: "submit", class: "primary", "data-confirm": "ok" }, "OK"))));
    if (onChange) {
      inputs.forEach((i) => i.addEventListener("change", () => onChange(values(), note)));
      onChange(values(), note);
    }
    dlg.onclose = () => resolve(dlg.returnValue === "ok" ? values() : null);
    dlg.showModal();
  });
}

// ---- list ------------------------------------------------------------------------------------

// ---- catalog drift: "needs attention" (the reason is the server's, service/attention.py) ----
function attentionBadge(s) {
  if (!s.attention) return null;
  return h("span", { class: "badge attention", "data-attention": "", title: s.attention_reasons.join("\n") }, "needs attention");
}

function attentionNotice(s) {
  if (!s.attention) return null;
  return h("div", { class: "card attention", id: "attention" },
    h("h2", {}, "Needs attention: the catalog changed under the published version"),
    h("ul", {}, s.attention_reasons.map((r) => h("li", {}, r))),
    h("p", { class: "muted" }, "Runs fail before touching the target until this is fixed (in the catalog, or in the service) and the service is republished."));
}

// ---- Airflow's own doors: a pause / unpause outside the plugin (the server's words, airflow_bridge.py) ----
function airflowPauseNotice(s) {
  if (!s.airflow_pause) return null;
  return h("p", { class: "card airflow-pause", id: "airflow-pause", "data-paused": String(s.airflow_pause.paused) },
    s.airflow_pause.message);
}

const listFilters = { mine: false, name: "", application: "", entity: "", target_kind: "", status: "", execution_status: "", schedule_type: "", page: 1 };

async function listPage(main) {
  const routeId = state.route;
  const entityOptions = state.entities.flatMap((e) => e.ids.map((i) => [`${e.code}.${i.code}`, `${e.name} – ${i.name}`]));
  const sel = (id, values, label) => h("select", { id: `f-${id}`, "aria-label": label, onchange: (ev) => { listFilters[id] = ev.target.value; listFilters.page = 1; load(); } },
    option("", `${label}: all`), values.map((v) => Array.isArray(v) ? option(v[0], v[1], listFilters[id] === v[0]) : option(v, v, listFilters[id] === v)));
  const tbody = h("tbody");
  const pager = h("div", { class: "pager" });
  let searchTimer = null;
  mount(main, 
    h("div", { class: "row" }, h("h1", {}, "Tag offline services"), h("span", { class: "spacer" }),
      state.me.can_create_services ? h("button", { class: "primary", id: "new-service", onclick: () => go("#/new") }, "New service") : null),
    h("div", { class: "filters" },
      h("label", {}, h("input", { type: "checkbox", id: "f-mine", checked: listFilters.mine, onchange: (ev) => { listFilters.mine = ev.target.checked; listFilters.page = 1; load(); } }), " Only mine"),
      h("input", { type: "search", id: "f-name", placeholder: "Search name", value: listFilters.name, "aria-label": "Search name",
        oninput: (ev) => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { listFilters.name = ev.target.value; listFilters.page = 1; load(); }, 250); } }),
      sel("application", state.applications.map((a) => [a.code, a.name]), "Application"),
      sel("entity", entityOptions, "Entity – entity ID"),
      sel("target_kind", state.kinds.map((k) => k.kind), "Target kind"),
      sel("status", TASK_STATUSES, "Task status"),
      sel("execution_status", EXEC_STATUSES, "Execution status"),
      sel("schedule_type", ["manual", "recurring"], "Schedule type")),
    // wrapped: a table wider than the frame scrolls on its own instead of cutting the Actions column off
    h("div", { class: "table-wrap" }, h("table", { id: "services" },
      h("thead", {}, h("tr", {}, ["Name", "Owner", "Application", "Entity", "Entity ID", "Task status", "Execution", "Tags", "Schedule", "Target", "Actions"].map((c) => h("th", {}, c)))),
      tbody)),
    pager);

  async function load() {
    const params = new URLSearchParams({ page: listFilters.page, page_size: PAGE_SIZE });
    if (listFilters.mine) params.set("mine", "true");
    for (const k of ["name", "application", "target_kind", "status", "execution_status", "schedule_type"]) {
      if (listFilters[k]) params.set(k, listFilters[k]);
    }
    if (listFilters.entity) {
      const [entity, entityId] = listFilters.entity.split(".");
      params.set("entity", entity);
      params.set("entity_id", entityId);
    }
    const data = await api("GET", `/services?${params}`);
    if (stale(routeId)) return;
    tbody.replaceChildren(...data.items.map((s) => h("tr", { dataset: { service: s.name } },
      h("td", { class: "name" }, h("a", { href: `#/service/${enc(s.name)}` }, s.name)),
      h("td", {}, s.owner), h("td", {}, s.application), h("td", {}, s.entity), h("td", {}, s.entity_id),
      h("td", {}, h("span", { class: `badge ${s.status}`, "data-status": s.status }, s.status), attentionBadge(s)),
      h("td", {}, h("span", { class: `badge ${s.execution_status}` }, s.execution_status)),
      h("td", {}, h("div", { class: "tags" }, s.tags.map((t) => h("span", {}, t)))),
      h("td", {}, s.schedule_type),
      h("td", { class: "target", title: `Full name: ${s.target.full_name}\nData source: ${s.target.conn_id} (${s.target_kind})\nSchema: ${s.target.schema || "(default)"}` }, s.target.table),
      h("td", { class: "actions" }, h("div", { class: "buttons" }, actionButtons(s, load))))));
    if (!data.items.length) tbody.append(h("tr", {}, h("td", { colspan: 11, class: "muted" }, "No services match.")));
    const pages = Math.max(1, Math.ceil(data.total / PAGE_SIZE));
    pager.replaceChildren(
      h("button", { disabled: listFilters.page <= 1, onclick: () => { listFilters.page -= 1; load(); } }, "‹ Previous"),
      h("span", { id: "page-info" }, `Page ${listFilters.page} of ${pages} · ${data.total} services`),
      h("button", { disabled: listFilters.page >= pages, onclick: () => { listFilters.page += 1; load(); } }, "Next ›"));
    const busy = data.items.some((s) => ["publishing", "unpublishing"].includes(s.status) || ["queued", "waiting_for_data", "running", "up_for_retry"].includes(s.execution_status));
    poll(routeId, load, busy ? 2000 : 0);
  }
  await load();
}

// ---- create / edit form ----------------------------------------------------------------------

// The data sources an application may write (its target grants), each with the granted schemas.
async function connections(application) {
  return application ? api("GET", `/connections?application=${enc(application)}`) : [];
}

async function formPage(main, name) {
  const routeId = state.route;
  const existing = name ? await api("GET", `/services/${enc(name)}`) : null;
  const d = existing ? existing.definition : {
    name: "", application: state.me.applications[0] || "", owner: state.me.username, entity: state.entities[0]?.code || "",
    entity_id: state.entities[0]?.ids[0]?.code || "", description: "", schedule: { type: "manual" },
    target: { conn_id: "", schema: null, table: "", load: "overwrite", partition: null }, mappings: [],
  };
  let conns = await connections(d.application);
  if (stale(routeId)) return;
  const editing = !!existing;
  const view = { mappings: (d.mappings || []).map((m) => ({ ...m })), tags: [], grants: new Set() };

  const f = {};  // the inputs, by field path
  const err = {};  // the error slots, by field path
  const slot = (path) => (err[path] = h("div", { class: "error", "data-error-for": path }));
  const counter = (input, max) => {
    const c = h("span", { class: "counter", "data-counter-for": input.id }, `${input.value.length}/${max}`);
    input.addEventListener("input", () => { c.textContent = `${input.value.length}/${max}`; });
    return c;
  };
  const row = (label, path, control, extra) => [h("label", { for: control.id }, label),
    h("div", { class: "field" }, control, extra, slot(path))];

  f.name = h("input", { id: "name", name: "name", maxlength: 64, value: d.name, readonly: editing, required: true });
  f.application = h("select", { id: "application", disabled: editing },
    (editing ? [d.application] : state.me.applications).map((a) => option(a, a, a === d.application)));
  f.owner = h("input", { id: "owner", list: "owner-options", value: d.owner });
  const ownerOptions = h("datalist", { id: "owner-options" });
  f.entity = h("select", { id: "entity", disabled: editing }, state.entities.map((e) => option(e.code, `${e.name} (${e.code})`, e.code === d.entity)));
  f.entity_id = h("select", { id: "entity_id", disabled: editing });
  f.schedule_manual = h("input", { type: "radio", name: "schedule_type", id: "schedule_manual", value: "manual", checked: d.schedule.type === "manual", disabled: editing });
  f.schedule_recurring = h("input", { type: "radio", name: "schedule_type", id: "schedule_recurring", value: "recurring", checked: d.schedule.type === "recurring", disabled: editing });
  f.description = h("textarea", { id: "description", maxlength: 1000, rows: 3 }, d.description || "");
  f.description.value = d.description || "";

  const lockedKind = editing ? existing.target_kind : null;
  f.conn_id = h("select", { id: "conn_id" });
  function fillConnections() {
    const chosen = f.conn_id.value || d.target.conn_id;
    const usable = conns.filter((c) => !lockedKind || c.kind === lockedKind);
    f.conn_id.replaceChildren(option("", usable.length ? "Choose a data source" : "No data source is granted to this application"),
      ...usable.map((c) => option(c.conn_id, `${c.conn_id} (${c.kind})`, c.conn_id === chosen)));
  }
  fillConnections();
  f.schema = h("select", { id: "schema" });
  f.table = h("input", { id: "table", list: "table-options", value: d.target.table || "", placeholder: "target table" });
  const tableOptions = h("datalist", { id: "table-options" });
  f.partition_field = h("input", { id: "partition_field", value: d.target.partition?.field || "", placeholder: "none (whole table)" });
  f.partition_format = h("select", { id: "partition_format" }, FORMATS.map((x) => option(x, x, x === (d.target.partition?.format || "yyyyMMdd"))));
  f.load = h("select", { id: "load" }, option("overwrite", "Overwrite (atomic swap)", d.target.load !== "changes"),
    option("changes", "Changes only (one transaction)", d.target.load === "changes"));
  f.wait_for_lock = h("input", { id: "wait_for_lock", value: d.target.wait_for_lock ?? "", placeholder: "default of the deployment (10m unless set)" });
  f.daily_at = h("input", { id: "daily_at", type: "time", value: d.schedule.daily_at || "02:30" });
  f.timezone = h("input", { id: "timezone", list: "tz-options", value: d.schedule.timezone || "" , placeholder: "default of the deployment" });

  const tagPicker = h("div", { class: "tagpicker", id: "tag-picker" });
  const mappingBody = h("tbody");
  const selectAllValue = h("input", { type: "checkbox", id: "select-all-value", title: "Output the value of every selected tag" });
  const selectAllCode = h("input", { type: "checkbox", id: "select-all-codename", title: "Output the code name of every tag that has a lookup" });
  const ddlBox = h("div", { id: "ddl-box" });
  const summary = h("div", { class: "summary-errors", id: "form-errors" });
  const maintenance = h("div", { class: "card", id: "maintenance" }, h("h2", {}, "Maintenance"),
    h("div", { class: "grid" }, row("Daily at", "schedule.daily_at", f.daily_at), row("Timezone", "schedule.timezone", f.timezone)));
  f.pool = h("input", { id: "pool", value: d.pool || "", placeholder: "default_pool" });
  f.queue = h("input", { id: "queue", value: d.queue || "", placeholder: "the deployment's default queue" });
  const placement = h("div", { class: "card", id: "placement" }, h("h2", {}, "Where runs go"),
    h("div", { class: "grid" }, row("Airflow pool", "pool", f.pool), row("Queue", "queue", f.queue)));
  const notify = notifyFields(d.notify, row);

  function tagsForId() {
    const entity = state.entities.find((e) => e.code === f.entity.value);
    return entity ? entity.tags.filter((t) => t.id === f.entity_id.value) : [];
  }

  function fillEntityIds() {
    const entity = state.entities.find((e) => e.code === f.entity.value);
    f.entity_id.replaceChildren(...(entity ? entity.ids : []).map((i) => option(i.code, `${i.name} (${i.code})`, i.code === d.entity_id)));
  }

  function fillOwners() {
    const app = state.applications.find((a) => a.code === f.application.value);
    ownerOptions.replaceChildren(...(app ? [...app.admins, ...app.members] : []).map((u) => option(u)));
  }

  async function loadGrants() {
    const grants = await api("GET", `/catalog/grants?application=${enc(f.application.value)}&state=approved`);
    const today = new Date().toISOString().slice(0, 10);
    view.grants = new Set(grants.filter((g) => g.entity === f.entity.value && (!g.expires || g.expires >= today)).map((g) => g.tag));
    renderTags();
  }

  function renderTags() {
    view.tags = tagsForId();
    tagPicker.replaceChildren(...view.tags.map((t) => {
      const granted = view.grants.has(t.code);
      const chosen = view.mappings.some((m) => m.tag === t.code);
      return h("label", { title: granted ? `${t.name}: ${t.type}${t.lookup ? ", lookup " + t.lookup : ""}` : `No approved grant of ${t.code} to ${f.application.value}: request one on the Catalog page` },
        h("input", { type: "checkbox", value: t.code, "data-tag": t.code, checked: chosen, disabled: !granted && !chosen,
          onchange: (ev) => { toggleTag(t, ev.target.checked); } }), ` ${t.code}`, granted ? "" : " (no grant)");
    }));
    if (!view.tags.length) tagPicker.append(h("span", { class: "muted" }, "No tags are keyed by this entity ID."));
    renderMappings();
  }

  function toggleTag(tag, on) {
    if (on && !view.mappings.some((m) => m.tag === tag.code)) {
      view.mappings.push({ tag: tag.code, value: tag.code, codename: tag.lookup ? `${tag.code}_codename` : null });
    } else if (!on) {
      view.mappings = view.mappings.filter((m) => m.tag !== tag.code);
    }
    renderMappings();
  }

  function renderMappings() {
    mappingBody.replaceChildren(...view.mappings.map((m, i) => {
      const tag = view.tags.find((t) => t.code === m.tag) || { code: m.tag, name: m.tag, lookup: null };
      const valueOn = h("input", { type: "checkbox", "data-output": "value", checked: m.value !== null && m.value !== undefined,
        onchange: (ev) => { m.value = ev.target.checked ? (m.value || tag.code) : null; renderMappings(); } });
      const codeOn = h("input", { type: "checkbox", "data-output": "codename", checked: !!m.codename, disabled: !tag.lookup,
        title: tag.lookup ? `code names from lookup ${tag.lookup}` : "this tag has no lookup: no code name",
        onchange: (ev) => { m.codename = ev.target.checked ? `${tag.code}_codename` : null; renderMappings(); } });
      const valueCol = h("input", { type: "text", "data-column": "value", value: m.value || "", disabled: m.value === null || m.value === undefined,
        oninput: (ev) => { m.value = ev.target.value; } });
      const codeCol = h("input", { type: "text", "data-column": "codename", value: m.codename || "", disabled: !m.codename,
        oninput: (ev) => { m.codename = ev.target.value; } });
      err[`mappings[${i}].value`] = h("div", { class: "error", "data-error-for": `mappings[${i}].value` });
      err[`mappings[${i}].codename`] = h("div", { class: "error", "data-error-for": `mappings[${i}].codename` });
      err[`mappings[${i}].tag`] = h("div", { class: "error", "data-error-for": `mappings[${i}].tag` });
      return h("tr", { dataset: { mapping: m.tag } },
        h("td", {}, h("strong", {}, tag.code), h("div", { class: "muted" }, tag.name), err[`mappings[${i}].tag`]),
        h("td", {}, h("label", {}, valueOn, " value"), valueCol, err[`mappings[${i}].value`]),
        h("td", {}, h("label", {}, codeOn, " code name"), codeCol, err[`mappings[${i}].codename`]),
        h("td", {}, h("button", { type: "button", class: "icon", onclick: () => { view.mappings.splice(i, 1); renderTags(); } }, "Remove")));
    }));
    if (!view.mappings.length) mappingBody.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No tags mapped yet: pick tags above, or use same-name mapping.")));
    selectAllValue.checked = view.mappings.length > 0 && view.mappings.every((m) => m.value);
    selectAllCode.checked = view.mappings.some((m) => m.codename) && view.mappings.every((m) => m.codename || !tagLookup(m.tag));
    tagPicker.querySelectorAll("input[data-tag]").forEach((cb) => { cb.checked = view.mappings.some((m) => m.tag === cb.value); });
  }

  const tagLookup = (code) => (view.tags.find((t) => t.code === code) || {}).lookup;

  selectAllValue.addEventListener("change", () => {
    view.mappings.forEach((m) => { m.value = selectAllValue.checked ? (m.value || m.tag) : null; });
    renderMappings();
  });
  selectAllCode.addEventListener("change", () => {
    view.mappings.forEach((m) => { m.codename = selectAllCode.checked && tagLookup(m.tag) ? (m.codename || `${m.tag}_codename`) : null; });
    renderMappings();
  });

  async function loadSchemas() {
    const conn = conns.find((c) => c.conn_id === f.conn_id.value);
    f.schema.replaceChildren(option("", conn && conn.has_schemas ? "(default schema)" : "(no schemas)"));
    f.schema.disabled = !(conn && conn.has_schemas);
    if (conn && conn.has_schemas) {
      try {
        const r = await api("GET", `/connections/${enc(conn.conn_id)}/schemas`);
        // only the schemas granted to this application (the server lists those of all the caller's)
        const granted = conn.granted_schemas;
        f.schema.append(...r.items.filter((s) => !granted || granted.includes(s)).map((s) => option(s, s, s === d.target.schema)));
      } catch (e) { toast(e.message, true); }
    }
    await loadTables();
  }

  async function reloadConnections() {
    try { conns = await connections(f.application.value); } catch (e) { conns = []; toast(e.message, true); }
    fillConnections();
    await loadSchemas();
  }

  async function loadTables() {
    tableOptions.replaceChildren();
    if (!f.conn_id.value) return;
    try {
      const q = f.schema.value ? `?schema=${enc(f.schema.value)}` : "";
      const r = await api("GET", `/connections/${enc(f.conn_id.value)}/tables${q}`);
      tableOptions.replaceChildren(...r.items.map((t) => option(t)));
    } catch (e) { toast(e.message, true); }
  }

  function draft() {
    const recurring = f.schedule_recurring.checked;
    const partition = f.partition_field.value.trim() ? { field: f.partition_field.value.trim(), format: f.partition_format.value } : null;
    return {
      name: f.name.value.trim(), application: f.application.value, owner: f.owner.value.trim(),
      entity: f.entity.value, entity_id: f.entity_id.value, description: f.description.value,
      schedule: recurring ? { type: "recurring", daily_at: f.daily_at.value, timezone: f.timezone.value.trim() || null } : { type: "manual" },
      target: { conn_id: f.conn_id.value, schema: f.schema.value || null, table: f.table.value.trim(), load: f.load.value, partition,
        wait_for_lock: f.wait_for_lock.value.trim() || null },
      mappings: view.mappings.map((m) => ({ tag: m.tag, value: m.value || null, codename: m.codename || null })),
      pool: f.pool.value.trim() || null, queue: f.queue.value.trim() || null,
      gates: existing ? existing.definition.gates : undefined,
      notify: notify.value(),
    };
  }

  function clearErrors() {
    summary.replaceChildren();
    for (const e of Object.values(err)) e.textContent = "";
    document.querySelectorAll(".invalid").forEach((el) => el.classList.remove("invalid"));
  }

  const FIELD_INPUT = { name: "name", application: "application", owner: "owner", entity: "entity", entity_id: "entity_id",
    description: "description", "schedule.daily_at": "daily_at", "schedule.timezone": "timezone", "schedule.type": "schedule_manual",
    "target.conn_id": "conn_id", "target.schema": "schema", "target.table": "table", "target.load": "load",
    "target.partition.field": "partition_field", "target.partition.format": "partition_format", "target.partition": "partition_field",
    "target.wait_for_lock": "wait_for_lock",
    pool: "pool", queue: "queue", ...NOTIFY_INPUTS };

  function showErrors(e) {
    clearErrors();
    const unplaced = [];
    for (const item of e.details) {
      const path = item.field || "";
      const target = err[path] || (path.startsWith("target.partition") ? err["target.partition.field"] : null)
        || notifySlot(err, path)
        || (path.startsWith("target.key_column") ? err["target.table"] : null);
      if (target) {
        target.textContent = target.textContent ? `${target.textContent}; ${item.message}` : item.message;
        const input = document.getElementById(FIELD_INPUT[path] || NOTIFY_INPUTS[notifyList(path)] || "");
        if (input) input.classList.add("invalid");
      } else {
        unplaced.push(path ? `${path}: ${item.message}` : item.message);
      }
    }
    if (unplaced.length) summary.replaceChildren(h("strong", {}, "Please fix: "), unplaced.join("; "));
    const first = document.querySelector(".error:not(:empty), .summary-errors:not(:empty)");
    if (first) first.scrollIntoView({ block: "center" });
  }

  async function save(andPublish) {
    clearErrors();
    const body = draft();
    try {
      let svc;
      if (editing) svc = await api("PUT", `/services/${enc(existing.name)}`, { ...body, version: existing.version });
      else svc = await api("POST", "/services", body);
      toast(`${svc.name} saved (version ${svc.version})`);
      if (andPublish) {
        const r = await api("POST", `/services/${enc(svc.name)}/publish`);
        toast(`${svc.name}: ${r.status}`);
      }
      go(`#/service/${enc(svc.name)}`);
    } catch (e) {
      if (e.status === 422 || e.status === 409) showErrors(e); else toast(e.message, true);
    }
  }

  async function sameNameMapping() {
    clearErrors();
    try {
      const r = await api("POST", "/helpers/same-name-mapping", { application: f.application.value, entity: f.entity.value,
        entity_id: f.entity_id.value, conn_id: f.conn_id.value || null, schema: f.schema.value || null, table: f.table.value.trim() || null });
      view.mappings = r.mappings.map((m) => ({ ...m }));
      renderTags();
      toast(`Same-name mapping: ${r.mappings.length} tag(s) mapped${r.key_column ? `; ${r.key_column} holds the entity ID` : ""}`
        + `${r.unmatched_columns.length ? `; columns no tag maps to: ${r.unmatched_columns.join(", ")}` : ""}`);
    } catch (e) {
      // the helper's fields are the form's target fields
      const FORM = { table: "target.table", conn_id: "target.conn_id", schema: "target.schema" };
      if (e.status === 422) showErrors({ details: e.details.map((d) => ({ ...d, field: FORM[d.field] || d.field })) });
      else toast(e.message, true);
    }
  }

  async function previewDdl() {
    clearErrors();
    try {
      const r = await api("POST", "/helpers/ddl/preview", { service: draft() });
      const text = h("textarea", { class: "ddl", id: "ddl-text", rows: 12, spellcheck: "false" });
      text.value = r.statements.join(";\n\n") + ";";
      ddlBox.replaceChildren(
        h("p", {}, `CREATE TABLE for ${r.kind} connection ${r.conn_id}`, r.table_exists ? h("strong", { class: "error" }, ` — table ${r.table} already exists`) : ""),
        text,
        h("div", { class: "row" },
          h("button", { type: "button", class: "primary", id: "ddl-execute", onclick: () => executeDdl(text.value) }, "Execute on the target"),
          h("button", { type: "button", onclick: () => ddlBox.replaceChildren() }, "Close")));
    } catch (e) {
      if (e.status === 422) showErrors(e); else toast(e.message, true);
    }
  }

  async function executeDdl(text) {
    // The server splits the text with the target dialect's own parser (no guessing at ";" here).
    const statements = [text];
    try {
      const r = await api("POST", "/helpers/ddl/execute", { service: draft(), statements });
      ddlBox.replaceChildren(h("p", { id: "ddl-done" }, `Created ${r.table} on ${r.conn_id}: ${r.executed.length} statement(s); columns ${r.columns.map((c) => c.name || c).join(", ")}.`));
      toast(`Table ${r.table} created`);
      await loadTables();
    } catch (e) {
      ddlBox.append(h("div", { class: "error", id: "ddl-error" }, e.message));
    }
  }

  const schedule = () => { maintenance.hidden = !f.schedule_recurring.checked; };
  f.entity.addEventListener("change", () => { fillEntityIds(); view.mappings = []; loadGrants(); });
  f.entity_id.addEventListener("change", () => { view.mappings = []; renderTags(); });
  f.application.addEventListener("change", () => { fillOwners(); loadGrants(); reloadConnections(); });
  f.conn_id.addEventListener("change", () => { d.target.schema = null; loadSchemas(); });
  f.schema.addEventListener("change", loadTables);
  f.schedule_manual.addEventListener("change", schedule);
  f.schedule_recurring.addEventListener("change", schedule);

  mount(main, 
    h("div", { class: "row" }, h("h1", {}, editing ? `Edit ${existing.name}` : "New tag offline service"), h("span", { class: "spacer" }),
      editing ? h("span", { class: "muted" }, `version ${existing.version} · ${existing.status}`) : null),
    summary,
    h("form", { id: "service-form", onsubmit: (ev) => { ev.preventDefault(); save(false); } },
      h("div", { class: "card" }, h("h2", {}, "Basic information"),
        h("div", { class: "grid" },
          row("Name", "name", f.name, [counter(f.name, 64), h("span", { class: "muted" }, "Chinese, letters, digits and _; cannot change later")]),
          row("Application", "application", f.application),
          row("Owner", "owner", f.owner, ownerOptions),
          row("Entity", "entity", f.entity),
          row("Entity ID", "entity_id", f.entity_id),
          [h("label", {}, "Schedule type"), h("div", { class: "field" },
            h("div", { class: "row" }, h("label", {}, f.schedule_manual, " Manual"), h("label", {}, f.schedule_recurring, " Recurring (daily)")),
            slot("schedule.type"))],
          row("Description", "description", f.description, counter(f.description, 1000)))),
      h("div", { class: "card" }, h("h2", {}, "Field mapping"),
        h("div", { class: "grid" },
          row("Data source", "target.conn_id", f.conn_id, h("span", { class: "muted" }, "Connections granted to the application (target grants on the Catalog page)")),
          row("Schema", "target.schema", f.schema),
          row("Table", "target.table", f.table, tableOptions),
          row("Date partition field", "target.partition.field", f.partition_field),
          row("Partition format", "target.partition.format", f.partition_format),
          row("Loading policy", "target.load", f.load, h("span", { class: "muted" },
            "Changes only: write only the rows that changed, in one transaction; diffed in the warehouse where its connection names a tagoffline_scratch place, else in the target; swaps the whole table when that is cheaper or the table changed outside the service")),
          row("Wait for the table's lock", "target.wait_for_lock", f.wait_for_lock, h("span", { class: "muted" },
            "How long the swap keeps trying while other sessions use the table (10m, 1h, 90s); each try holds readers at most 1.5 s")),
          [h("label", {}, "Tags"), h("div", { class: "field" }, tagPicker, h("span", { class: "muted" }, "Tags keyed by the entity ID; only granted tags can be chosen."), slot("mappings"))]),
        h("div", { class: "row", style: "margin: 10px 0" },
          h("button", { type: "button", id: "same-name", onclick: sameNameMapping }, "Same-name mapping"),
          h("button", { type: "button", id: "purge", onclick: () => { view.mappings = []; renderTags(); } }, "Purge"),
          h("button", { type: "button", id: "create-table", onclick: previewDdl }, "One-click create table"),
          h("button", { type: "button", id: "preview-draft", title: "What a run of this form, as it is now, would write and change (nothing is saved)",
            onclick: () => previewDialog(`Preview ${f.name.value.trim() || "the new service"} (not saved)`, yesterday(),
              (q) => api("POST", "/services/preview", { service: draft(), data_date: q.data_date, sample: Number(q.sample) })) }, "Preview"),
          h("span", { class: "spacer" }),
          h("label", {}, selectAllValue, " All values"), h("label", {}, selectAllCode, " All code names")),
        h("table", { class: "mapping", id: "mapping" },
          h("thead", {}, h("tr", {}, h("th", {}, "Tag"), h("th", {}, "Value column"), h("th", {}, "Code name column"), h("th", {}, ""))),
          mappingBody),
        ddlBox),
      maintenance,
      placement,
      notify.card,
      h("datalist", { id: "tz-options" }, TIMEZONES.map((z) => option(z))),
      h("div", { class: "row" },
        h("button", { type: "submit", class: "primary", id: "save" }, "Save"),
        h("button", { type: "button", id: "save-publish", onclick: () => save(true) }, editing && existing.status === "published" ? "Save & republish" : "Save & publish"),
        h("button", { type: "button", onclick: () => history.back() }, "Cancel"))));

  fillEntityIds();
  fillOwners();
  schedule();
  await Promise.all([loadGrants(), loadSchemas()]);
  // Only into an empty field: what the user typed while the lists loaded stays (it was overwritten).
  if (d.target.table && !f.table.value.trim()) f.table.value = d.target.table;
}

// ---- notifications (the form's card, its errors, the details line) --------------------------------

const NOTIFY_EVENTS = [["failure", "Run failed"], ["gate_failure", "Quality gate failed"], ["success", "Run succeeded"]];
const NOTIFY_INPUTS = { "notify.conn_id": "notify_conn", "notify.to": "notify_to", "notify.events": "notify_on_failure" };

// The card of a service's notify: an Airflow SMTP connection, recipients, events. Empty connection
// and recipients mean no notifications (notify: null); the server checks everything else.
function notifyFields(n, row) {
  const conn = h("input", { id: "notify_conn", value: n ? n.conn_id : "", placeholder: "none: nobody is notified" });
  const to = h("input", { id: "notify_to", value: n ? n.to.join(", ") : "", placeholder: "ops@example.com, dba@example.com" });
  const on = n ? n.events : ["failure", "gate_failure"];
  const boxes = NOTIFY_EVENTS.map(([event]) => h("input", { type: "checkbox", id: `notify_on_${event}`, value: event, checked: on.includes(event) }));
  const card = h("div", { class: "card", id: "notifications" }, h("h2", {}, "Notifications"),
    h("div", { class: "grid" },
      row("SMTP connection", "notify.conn_id", conn, h("span", { class: "muted" }, "An Airflow connection of type smtp; its server, login and sender stay there")),
      row("Recipients", "notify.to", to, h("span", { class: "muted" }, "Email addresses, separated by commas")),
      row("Notify when", "notify.events", h("div", { class: "row", id: "notify_on" }, ...boxes.map((b, i) => h("label", {}, b, ` ${NOTIFY_EVENTS[i][1]}`))))));
  const value = () => {
    const recipients = to.value.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean);
    if (!conn.value.trim() && !recipients.length) return null;
    return { conn_id: conn.value.trim(), to: recipients, events: boxes.filter((b) => b.checked).map((b) => b.value) };
  };
  return { card, value };
}

// notify.to[2] and notify.events[1] are shown beside their list's field
function notifyList(path) {
  const m = /^(notify\.(?:to|events))\[\d+\]$/.exec(path);
  return m ? m[1] : null;
}

function notifySlot(err, path) {
  const list = notifyList(path);
  return list ? err[list] : null;
}

function notifySummary(n) {
  if (!n) return "none";
  const when = n.events.map((e) => (NOTIFY_EVENTS.find(([k]) => k === e) || [e, e])[1].toLowerCase()).join(", ");
  return `${when} → ${n.to.join(", ")} (connection ${n.conn_id})`;
}

// ---- preview of a run ------------------------------------------------------------------------

// What a run for a data date would write and change, read from the warehouse and the live target;
// nothing is written. ``fetch({data_date, sample})`` asks the API (a saved service or the form's draft).
function previewDialog(title, dataDate, fetch) {
  const dlg = document.getElementById("dialog");
  const date = h("input", { type: "date", id: "pv-date", value: dataDate, required: true });
  const sample = h("input", { type: "number", id: "pv-sample", value: 10, min: 0, max: 1000, style: "width: 6em" });
  const out = h("div", { id: "preview-result", class: "preview" });
  let asked = 0;  // only the latest question's answer is shown
  async function load() {
    const mine = ++asked;
    out.replaceChildren(h("p", { class: "muted" }, "Reading the warehouse and the live target…"));
    try {
      const p = await fetch({ data_date: date.value, sample: sample.value || 0 });
      if (mine === asked) mount(out, previewReport(p));
    } catch (e) {
      if (mine === asked) out.replaceChildren(h("div", { class: "error", id: "preview-error" }, e.message));
    }
  }
  dlg.replaceChildren(h("form", { method: "dialog", class: "preview-dialog", onsubmit: (ev) => { if (ev.submitter?.value === "load") { ev.preventDefault(); load(); } } },
    h("div", { class: "row" }, h("h2", {}, title), h("span", { class: "spacer" }),
      h("label", { for: "pv-date" }, "Data date "), date, h("label", { for: "pv-sample" }, " Sample rows "), sample,
      h("button", { type: "submit", value: "load", class: "primary", id: "pv-load" }, "Preview")),
    out,
    h("div", { class: "row" }, h("span", { class: "muted" }, "A preview reads only: no lock, no stage table, nothing written."),
      h("span", { class: "spacer" }), h("button", { value: "close", type: "submit", formnovalidate: true }, "Close"))));
  dlg.showModal();
  load();
}

function previewReport(p) {
  const pct = (x) => (x === null || x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);
  const c = p.changes;
  // would_fail names missing columns and wrong types already; values too long or wide are the data's
  const problems = [...p.would_fail, ...p.gates_failed.map((g) => `gate: ${g}`),
    ...p.columns.filter((x) => x.fails && !["missing", "type"].includes(x.kind)).map((x) => `column ${x.column}: ${x.kind} (below)`)];
  return [
    h("p", { id: "preview-verdict", class: problems.length ? "error" : "ok" },
      problems.length ? "A run for this data date would fail." : "A run for this data date would succeed.",
      h("span", { class: "muted" }, ` ${p.target}${p.target_exists ? "" : " (table does not exist)"} · read in ${p.seconds.toFixed(2)} s`)),
    problems.length ? h("ul", { class: "error", id: "preview-problems" }, problems.map((x) => h("li", {}, x))) : null,
    h("h3", {}, "Columns"),
    p.columns.length
      ? h("table", { id: "preview-columns" }, h("thead", {}, h("tr", {}, h("th", {}, "Column"), h("th", {}, "Difference"), h("th", {}, "Detail"))),
        h("tbody", {}, p.columns.map((x) => h("tr", { class: x.fails ? "fails" : "", dataset: { kind: x.kind, column: x.column } },
          h("td", {}, h("code", {}, x.column)), h("td", {}, h("span", { class: `badge ${x.fails ? "failed" : "waiting_for_data"}` }, x.kind)), h("td", {}, x.detail)))))
      : h("p", { class: "muted", id: "preview-columns" }, p.target_exists ? "The mapping matches the live table." : "—"),
    h("h3", {}, "Rows"),
    h("dl", { class: "kv", id: "preview-rows" },
      h("dt", {}, "Sources"), h("dd", {}, p.sources.map((s) => `${s.table}${s.partition ? ` ${s.partition}` : ""}: ${s.rows} rows${s.duplicates ? ` (${s.duplicates} duplicate IDs)` : ""}`).join("; ")),
      h("dt", {}, "Rows to write"), h("dd", {}, `${p.rows}${p.duplicates_replaced ? ` (${p.duplicates_replaced} duplicate IDs replaced, the last row wins)` : ""}`),
      c ? [h("dt", {}, "Versus the live table"), h("dd", { id: "preview-changes" },
        h("span", { class: "badge success" }, `+${c.added} added`), " ", h("span", { class: "badge failed" }, `−${c.removed} removed`), " ",
        h("span", { class: "badge running" }, `~${c.changed} changed`), " ", h("span", { class: "badge" }, `${c.unchanged} unchanged`),
        h("span", { class: "muted" }, ` of ${c.live_rows} live rows`))] : null,
      c ? [h("dt", {}, "Change ratio"), h("dd", {}, `${pct(c.change_ratio)} — what gates.max_change_ratio compares`)] : null,
      h("dt", {}, "Gates"), h("dd", {}, `${p.gates_failed.length ? "would fail" : "would pass"}: ${p.gates_checked}`)),
    h("h3", {}, `Sample (${p.sample.length} rows as they would be written)`),
    h("div", { class: "scroll" }, h("table", { id: "preview-sample" },
      h("thead", {}, h("tr", {}, p.sample_columns.map((x) => h("th", {}, x)))),
      h("tbody", {}, p.sample.map((r) => h("tr", {}, r.map((v) => h("td", { class: v === null ? "muted" : "" }, v === null ? "NULL" : String(v)))))))),
  ];
}

// ---- details, instances ----------------------------------------------------------------------

async function detailsPage(main, name) {
  const routeId = state.route;
  const render = async () => {
    const s = await api("GET", `/services/${enc(name)}`);
    if (stale(routeId)) return;
    const d = s.definition;
    const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v ?? "")];
    mount(main, 
      h("div", { class: "row" }, h("h1", {}, s.name), h("span", { class: `badge ${s.status}`, id: "status", "data-status": s.status }, s.status),
        attentionBadge(s),
        h("span", { class: `badge ${s.execution_status}`, id: "execution-status" }, s.execution_status), h("span", { class: "spacer" }),
        actionButtons(s, render)),
      h("p", { class: s.status.endsWith("failed") ? "error" : "muted", id: "status-message" }, s.status_message || ""),
      attentionNotice(s),
      airflowPauseNotice(s),
      h("div", { class: "card" }, h("h2", {}, "Basic information"), h("dl", { class: "kv" },
        kv("Application", d.application), kv("Owner", d.owner), kv("Entity / entity ID", `${d.entity} / ${d.entity_id}`),
        kv("Schedule", d.schedule.type === "recurring" ? `daily at ${d.schedule.daily_at} (${d.schedule.timezone || "default timezone"})` : "manual"),
        kv("Pool / queue", `${d.pool || "default_pool"} / ${d.queue || "default queue"}`),
        kv("Notifications", notifySummary(d.notify)),
        kv("Description", d.description), kv("Version", `${s.version}${s.published_version ? ` (published: ${s.published_version})` : ""}`),
        kv("Airflow DAG", h("a", { href: `/dags/${enc(s.dag_id)}`, target: "_top", "data-airflow": "" }, s.dag_id)),
        kv("Created", `${s.created_by} · ${fmtTime(s.created_at)}`), kv("Updated", `${s.updated_by} · ${fmtTime(s.updated_at)}`))),
      h("div", { class: "card" }, h("h2", {}, "Target"), h("dl", { class: "kv" },
        kv("Data source", `${d.target.conn_id} (${s.target_kind})`), kv("Table", s.target.full_name),
        kv("Date partition", d.target.partition ? `${d.target.partition.field} (${d.target.partition.format})` : "none"),
        kv("Loading policy", d.target.load),
        kv("Wait for the table's lock", d.target.wait_for_lock ?? "default of the deployment")),
        h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Tag"), h("th", {}, "Value column"), h("th", {}, "Code name column"))),
          h("tbody", {}, d.mappings.map((m) => h("tr", {}, h("td", {}, m.tag), h("td", {}, m.value || "—"), h("td", {}, m.codename || "—")))))),
      h("p", {}, h("a", { href: "#/" }, "‹ All services"), " · ", h("a", { href: `#/service/${enc(name)}/instances` }, "Instances ›")));
    poll(routeId, render, ["publishing", "unpublishing"].includes(s.status) ? 1500 : 0);
  };
  try {
    await render();
  } catch (e) {
    if (e.status === 404) { toast(`${name} no longer exists`); go("#/"); } else throw e;
  }
}

// The states are Airflow's (the export task's while a run is not over: queued, deferred while it
// waits for a late partition, up_for_retry); the reason is the first line of why a run failed, or
// what it waits for.
async function instancesPage(main, name) {
  const routeId = state.route;
  const tbody = h("tbody");
  mount(main,
    h("div", { class: "row" }, h("h1", {}, `Instances of ${name}`), h("span", { class: "spacer" }),
      h("a", { href: `#/service/${enc(name)}` }, "Details")),
    h("table", { id: "instances" }, h("thead", {}, h("tr", {},
      ["Data date", "State", "Start", "End", "Duration", "Rows written", "Reason", "Run", "Airflow"].map((c) => h("th", {}, c)))), tbody));
  const reason = (i) => {
    if (i.waiting_for) {
      return h("td", { class: "reason", "data-reason": "waiting" }, `waiting for ${i.waiting_for}`,
        i.waiting_until ? h("span", { class: "muted" }, ` (until ${fmtTime(i.waiting_until)})`) : null);
    }
    if (i.error) return h("td", { class: "reason error", "data-reason": "error", title: i.error }, i.error);
    return h("td", { class: "reason" });
  };
  const load = async () => {
    const r = await api("GET", `/services/${enc(name)}/instances?limit=100`);
    if (stale(routeId)) return;
    tbody.replaceChildren(...r.items.map((i) => h("tr", { dataset: { run: i.run_id } },
      h("td", {}, i.data_date || ""),
      h("td", {}, h("span", { class: `badge ${i.state}`, "data-state": i.state, title: i.try_number > 1 ? `try ${i.try_number}` : null }, i.state)),
      h("td", {}, fmtTime(i.start)), h("td", {}, fmtTime(i.end)), h("td", {}, i.duration != null ? `${i.duration.toFixed(1)} s` : ""),
      h("td", { "data-rows": i.rows_written ?? "" }, i.rows_written ?? ""), reason(i), h("td", { class: "muted" }, i.run_type || ""),
      h("td", {}, h("a", { href: i.log_url, target: "_top", "data-airflow": "", title: "task log in Airflow" }, "Log")))));
    if (!r.items.length) tbody.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No runs yet.")));
    poll(routeId, load, r.items.some((i) => LIVE_STATES.includes(i.state)) ? 2000 : 0);
  };
  await load();
}

// ---- catalog ---------------------------------------------------------------------------------

async function catalogPage(main) {
  const routeId = state.route;
  const [grants, lookups, targetGrants] = await Promise.all([api("GET", "/catalog/grants"), api("GET", "/catalog/lookups"),
    api("GET", "/catalog/target-grants")]);
  state.entities = await api("GET", "/catalog/entities");
  const isAdmin = state.me.can_administer_catalog;
  const allConnections = isAdmin ? await api("GET", "/connections") : [];
  if (stale(routeId)) return;
  const decide = async (g, decision) => {
    // a reject or revoke says why (kept as the grant's reason and in the audit log)
    let body;
    if (decision !== "approve") {
      const values = await formDialog(`${decision === "revoke" ? "Revoke" : "Reject"} ${g.tag} for ${g.application}`,
        [{ name: "reason", label: "Reason", type: "text", value: "" }]);
      if (!values) return;
      body = { reason: values.reason.trim() };
    }
    try {
      await api("POST", `/catalog/grants/${enc(g.application)}/${enc(g.entity)}/${enc(g.tag)}/${decision}`, body);
      toast(`${decision}: ${g.tag} for ${g.application}`);
    } catch (e) { toast(e.message, true); }
    catalogPage(main);
  };
  const reqApp = h("select", { id: "grant-application" }, state.me.applications.map((a) => option(a)));
  const reqEntity = h("select", { id: "grant-entity" }, state.entities.map((e) => option(e.code, e.name)));
  const reqTag = h("select", { id: "grant-tag" });
  const fillTags = () => {
    const e = state.entities.find((x) => x.code === reqEntity.value);
    reqTag.replaceChildren(...(e ? e.tags : []).map((t) => option(t.code, `${t.code} (${t.name})`)));
  };
  reqEntity.addEventListener("change", fillTags);
  fillTags();
  const reqReason = h("input", { id: "grant-reason", placeholder: "why the application needs it" });
  const reqExpires = h("input", { id: "grant-expires", type: "date" });
  const request = async () => {
    try {
      await api("POST", "/catalog/grants", { application: reqApp.value, entity: reqEntity.value, tag: reqTag.value,
        reason: reqReason.value, expires: reqExpires.value || null });
      toast(`Grant of ${reqTag.value} to ${reqApp.value} requested`);
      catalogPage(main);
    } catch (e) { toast(e.message, true); }
  };
  mount(main, 
    h("h1", {}, "Catalog"),
    state.entities.map((e) => h("div", { class: "card", dataset: { entity: e.code } },
      h("h2", {}, `${e.name} (${e.code})`), e.description ? h("p", { class: "muted" }, e.description) : null,
      h("p", {}, "Entity IDs: ", e.ids.map((i) => h("span", { class: "badge" }, `${i.name} · ${i.code} · ${i.type}`))),
      h("table", { class: "tags-table" }, h("thead", {}, h("tr", {}, ["Tag", "Name", "Type", "Entity ID", "Lookup", "Source"].map((c) => h("th", {}, c)))),
        h("tbody", {}, e.tags.map((t) => h("tr", { dataset: { tag: t.code } }, h("td", {}, t.code), h("td", {}, t.name), h("td", {}, t.type), h("td", {}, t.id),
          h("td", {}, t.lookup || "—"),
          h("td", {}, `${t.source.table}.${t.source.column} by ${t.source.key}${t.source.partition ? `, partition ${t.source.partition}` : ""}`))))))),
    h("div", { class: "card" }, h("h2", {}, "Lookups"),
      h("table", {}, h("tbody", {}, lookups.map((l) => h("tr", {}, h("td", {}, l.code), h("td", {}, l.name),
        h("td", {}, l.kind === "inline" || l.values ? Object.entries(l.values || {}).map(([k, v]) => `${k}=${v}`).join(", ") : `table ${l.table} (${l.code_column} → ${l.name_column})`)))))),
    h("div", { class: "card" }, h("h2", {}, "Grants"),
      h("table", { id: "grants" }, h("thead", {}, h("tr", {}, ["Application", "Entity", "Tag", "State", "Expires", "Requested", "Decided", "Reason", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, grants.map((g) => h("tr", { dataset: { grant: `${g.application}:${g.entity}.${g.tag}` } },
          h("td", {}, g.application), h("td", {}, g.entity), h("td", {}, g.tag), h("td", {}, h("span", { class: `badge ${g.state === "approved" ? "success" : g.state === "requested" ? "queued" : "failed"}` }, g.state)),
          h("td", {}, g.expires || "—"), h("td", {}, g.requested_by ? `${g.requested_by} ${fmtTime(g.requested_at)}` : ""),
          h("td", {}, g.decided_by ? `${g.decided_by} ${fmtTime(g.decided_at)}` : ""),
          h("td", { class: "reason" }, g.reason || ""),
          h("td", { class: "actions" }, isAdmin && g.state === "requested" ? [
            h("button", { class: "icon", "data-decision": "approve", onclick: () => decide(g, "approve") }, "Approve"),
            h("button", { class: "icon danger", "data-decision": "reject", onclick: () => decide(g, "reject") }, "Reject")] : null,
          isAdmin && g.state === "approved" ? h("button", { class: "icon danger", "data-decision": "revoke", onclick: () => decide(g, "revoke") }, "Revoke") : null))))),
      state.me.applications.length ? h("div", { class: "row", style: "margin-top: 10px" }, h("strong", {}, "Request a grant:"), reqApp, reqEntity, reqTag, reqExpires, reqReason,
        h("button", { id: "grant-request", onclick: request }, "Request")) : null),
    targetGrantsCard(targetGrants, allConnections, () => catalogPage(main)));
}

// Which data sources each application may write (spec §2 target grants): everyone reads, Airflow
// admins grant and withdraw.
function targetGrantsCard(targetGrants, allConnections, reload) {
  const isAdmin = state.me.can_administer_catalog;
  const withdraw = async (g) => {
    try {
      await api("DELETE", `/catalog/target-grants/${enc(g.application)}/${enc(g.conn_id)}`);
      toast(`${g.conn_id} withdrawn from ${g.application}`);
      reload();
    } catch (e) { toast(e.message, true); }
  };
  const app = h("select", { id: "target-grant-application" }, state.applications.map((a) => option(a.code, `${a.name} (${a.code})`)));
  const conn = h("select", { id: "target-grant-conn" }, allConnections.map((c) => option(c.conn_id, `${c.conn_id} (${c.kind})`)));
  const schemas = h("input", { id: "target-grant-schemas", placeholder: "schemas, comma-separated (empty: every schema)", size: 36 });
  const add = async () => {
    const names = schemas.value.split(",").map((x) => x.trim()).filter(Boolean);
    const body = { application: app.value, conn_id: conn.value, schemas: names.length ? names : null };
    try {
      await api("PUT", `/catalog/target-grants/${enc(app.value)}/${enc(conn.value)}`, body);
      toast(`${conn.value} granted to ${app.value}`);
      reload();
    } catch (e) { toast(e.message, true); }
  };
  return h("div", { class: "card", id: "target-grants-card" }, h("h2", {}, "Target grants"),
    h("p", { class: "muted" }, "The data sources (Airflow connections) each application may write, and in which schemas. "
      + "A table belongs to the one service that targeted it first."),
    h("table", { id: "target-grants" },
      h("thead", {}, h("tr", {}, ["Application", "Data source", "Schemas", "Granted", ""].map((c) => h("th", {}, c)))),
      h("tbody", {}, targetGrants.length ? targetGrants.map((g) => h("tr", { dataset: { targetGrant: `${g.application}:${g.conn_id}` } },
        h("td", {}, g.application), h("td", {}, g.conn_id),
        h("td", { class: "schemas" }, g.schemas ? g.schemas.join(", ") : h("span", { class: "muted" }, "every schema")),
        h("td", {}, `${g.granted_by} ${fmtTime(g.granted_at)}`),
        h("td", { class: "actions" }, isAdmin ? h("button", { class: "icon danger", "data-withdraw": "", onclick: () => withdraw(g) }, "Withdraw") : null)))
        : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No application may write any data source yet.")))),
    isAdmin ? h("div", { class: "row", style: "margin-top: 10px" }, h("strong", {}, "Grant a data source:"), app, conn, schemas,
      h("button", { id: "target-grant-add", onclick: add }, "Grant")) : null);
}

boot();
