// pac-mock dashboard: reads the admin API next to this page and shows it.
// Every value from the server enters the page through textContent (see el()), never as markup.
"use strict";

(() => {
  const POLL_MS = 1500;
  const TOKEN_KEY = "pac-mock-admin-token";
  const TZ = "America/Mexico_City";

  // The API lives next to the page: /__admin/ or /__session/<id>/__admin/.
  const apiBase = new URL(location.pathname.endsWith("/") ? location.pathname : location.pathname + "/", location.origin);
  // Where the server's root is, whatever session this page shows (for the session picker).
  const rootPath = location.pathname.replace(/\/__session\/[^/]+\/__admin\/?.*$/, "").replace(/\/__admin\/?.*$/, "");

  // A ?token= in the address is kept for this tab only and taken out of the address bar.
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token"));
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
  }
  let token = sessionStorage.getItem(TOKEN_KEY) || "";

  const $ = (id) => document.getElementById(id);
  const state = { paused: false, lastJournalKey: "", maxSeenId: null, providers: {}, journal: [],
    mail: [], lastKeys: {}, checks: {} };

  // ---- DOM helpers -----------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function replace(node, ...children) {
    node.replaceChildren(...children.flat(Infinity).filter((c) => c !== undefined && c !== null));
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  function scalarText(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  const timeFormat = new Intl.DateTimeFormat("en-GB", { timeZone: TZ, hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false });
  const dateTimeFormat = new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });

  function parseDate(text) {
    if (!text) return null;
    const d = new Date(text);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function shortTime(text) {
    const d = parseDate(text);
    return d ? timeFormat.format(d) : scalarText(text);
  }

  function localDateTime(text) {
    const d = parseDate(text);
    return d ? dateTimeFormat.format(d).replace(",", "") : scalarText(text);
  }

  function statusClass(status) {
    const n = Number(status);
    if (n >= 200 && n < 300) return "ok";
    if (n >= 400 && n < 500) return "warn";
    if (n >= 500 || n === 0) return "bad";
    return "";
  }

  // Indent XML for reading; the result is plain text for a <pre>, never parsed as HTML.
  function prettyXml(text) {
    if (!text || !text.trim().startsWith("<")) return text || "";
    const doc = new DOMParser().parseFromString(text, "application/xml");
    if (doc.getElementsByTagName("parsererror").length) return text;
    const lines = [];
    const attrs = (node) => Array.from(node.attributes).map((a) => ` ${a.name}="${a.value}"`).join("");
    const walk = (node, depth) => {
      const pad = "  ".repeat(depth);
      const kids = Array.from(node.childNodes).filter((c) => c.nodeType !== Node.TEXT_NODE || c.nodeValue.trim());
      if (kids.length === 0) {
        lines.push(`${pad}<${node.nodeName}${attrs(node)}/>`);
      } else if (kids.length === 1 && kids[0].nodeType === Node.TEXT_NODE) {
        lines.push(`${pad}<${node.nodeName}${attrs(node)}>${kids[0].nodeValue.trim()}</${node.nodeName}>`);
      } else {
        lines.push(`${pad}<${node.nodeName}${attrs(node)}>`);
        for (const kid of kids) {
          if (kid.nodeType === Node.ELEMENT_NODE) walk(kid, depth + 1);
          else if (kid.nodeType === Node.TEXT_NODE) lines.push(pad + "  " + kid.nodeValue.trim());
          else if (kid.nodeType === Node.CDATA_SECTION_NODE) lines.push(`${pad}  <![CDATA[${kid.nodeValue}]]>`);
        }
        lines.push(`${pad}</${node.nodeName}>`);
      }
    };
    walk(doc.documentElement, 0);
    return lines.join("\n");
  }

  // ---- API -------------------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (token) headers["X-Admin-Token"] = token;
    const init = { method, headers, cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(new URL(path, apiBase), init);
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const message = (data && (data.message || data.error)) || text.slice(0, 200) || response.statusText;
      throw new ApiError(response.status, message);
    }
    return data;
  }

  function notice(message, kind) {
    const box = $("notice");
    box.dataset.kind = kind || "info";
    box.textContent = message;
    show(box, Boolean(message));
  }

  function setLive(kind, text) {
    $("live").dataset.state = kind;
    $("live-text").textContent = text;
  }

  // Only redraw a section when its data changed, so scroll position and selection survive polling.
  function changed(name, data) {
    const key = JSON.stringify(data);
    if (state.lastKeys[name] === key) return false;
    state.lastKeys[name] = key;
    return true;
  }

  // ---- Sections --------------------------------------------------------------------------------

  function renderHealth(health) {
    $("version").textContent = health.version ? "v" + health.version : "";
    $("session").textContent = "session: " + health.session;
    state.session = health.session;
    const select = $("provider-filter");
    for (const p of health.providers || []) {
      state.providers[p.id] = p.title;
      if (!Array.from(select.options).some((o) => o.value === p.id)) select.append(el("option", { value: p.id }, p.title));
    }
  }

  function renderScenarioFile(file) {
    if (!file || !changed("scenario-file", file)) return;
    const rows = [
      el("dt", {}, "File"), el("dd", { class: "mono" }, scalarText(file.path)),
      el("dt", {}, "Loaded"), el("dd", {}, localDateTime(file.loaded_at)),
      el("dt", {}, "Status"),
      el("dd", { class: file.error ? "bad" : "ok", id: "scenarios-status" }, file.error ? scalarText(file.error) : "valid"),
    ];
    replace($("scenarios-file"), rows);
  }

  function renderOverlay(data) {
    if (!changed("overlay", data)) return;
    const overlay = data && data.overlay;
    $("overlay-state").textContent = overlay ? "active" : "none";
    $("overlay-text").textContent = overlay || "This session has no overlay (PUT /__admin/scenarios sets one).";
    if (data && data.file) renderScenarioFile(data.file);
    const rules = (data && data.rules) || [];
    $("rules-count").textContent = String(rules.length);
    replace($("rules-body"), rules.map((r) => el("tr", { dataset: { rule: r.id }, title: (r.outcomes || []).join(" · ") },
      el("td", { class: "mono" }, r.id),
      el("td", { class: "mono small" }, scalarText(r.at)),
      el("td", { class: "num" }, scalarText(r.hits)),
      el("td", { class: "num" }, r.remaining === null || r.remaining === undefined ? "∞" : String(r.remaining)))));
    const warnings = (data && data.summary && data.summary.warnings) || [];
    replace($("scenario-warnings"), warnings.map((w) => el("li", { class: "bad" }, w)));
  }

  // What a provider's code means for the client, as the provider itself says (the journal entry's
  // "meaning"): done, waiting (ask again later), or refused. The HTTP status alone says 200 for most refusals.
  function providerCode(item) {
    const s = item.summary || {};
    if (s.injected && s.injected !== "delay") return { text: "fault: " + s.injected, kind: "bad" };
    if (s.fault) return { text: "SOAP fault", kind: "bad" };
    if (s.code === undefined || s.code === null) return { text: "—", kind: "" };
    if (item.meaning) return { text: String(item.meaning.text), kind: String(item.meaning.kind) };
    return { text: String(s.code), kind: "" };
  }

  function ruleChips(summary) {
    return ((summary && summary.rules) || []).map((r) => {
      const applied = typeof r.call === "number";
      return el("span", { class: "chip rule" + (applied ? " rule-applied" : ""), title: `${r.at}: ${r.did}`,
        dataset: { rule: r.id } }, r.id);
    });
  }

  function renderSessions(data) {
    const sessions = ((data && data.sessions) || []).map((s) => s.session);
    if (state.session && !sessions.includes(state.session)) sessions.unshift(state.session);
    if (!changed("sessions", [sessions, state.session])) return;
    const picker = $("session-picker");
    replace(picker, sessions.map((s) => el("option", { value: s, selected: s === state.session }, s)));
    picker.value = state.session || "default";
  }

  function sessionUrl(session) {
    const path = session === "default" ? "/__admin/" : `/__session/${encodeURIComponent(session)}/__admin/`;
    return rootPath + path;
  }

  function summaryChips(summary) {
    const entries = Object.entries(summary || {})
      .filter(([key]) => key !== "rules" && key !== "code" && key !== "findings");
    return entries.map(([key, value]) =>
      el("span", { class: "chip" + (key === "fault" || key === "injected" ? " chip-bad" : "") },
        el("span", { class: "chip-key" }, key), " ", scalarText(value))).concat(findingChips(summary));
  }

  // Conformance findings: where the request departs from the provider's documents (docs/conformance.md).
  function findingChips(summary) {
    return ((summary && summary.findings) || []).map((f) =>
      el("span", { class: `chip finding finding-${f.severity}`, title: findingSentence(f),
        dataset: { check: f.check, severity: f.severity } }, f.check));
  }

  function findingSentence(f) {
    const title = state.checks[f.check];
    const severity = f.severity.charAt(0).toUpperCase() + f.severity.slice(1);
    return `${severity}: ${title ? title + " — " : ""}${f.message}. Source: ${f.source}` +
      (f.fidelity ? ` (fidelity ${f.fidelity})` : "") + ".";
  }

  function renderJournal(data) {
    const items = data.requests || [];
    state.journal = items;
    $("journal-count").textContent = String(items.length);
    show($("journal-empty"), items.length === 0);
    if (!changed("journal", items)) return;
    const previousMax = state.maxSeenId;
    const rows = items.map((item) => {
      const fresh = previousMax !== null && item.id > previousMax;
      const findings = ((item.summary && item.summary.findings) || []).length;
      return el("tr", {
        class: "clickable" + (fresh ? " fresh" : "") + (findings ? " has-findings" : ""), tabindex: "0",
        dataset: { id: String(item.id), findings: String(findings) },
        title: "Show the redacted request and response",
        onclick: () => openRequest(item),
        onkeydown: (e) => { if (e.key === "Enter") openRequest(item); },
      },
      el("td", { class: "mono nowrap", title: item.at }, shortTime(item.at)),
      el("td", { class: "nowrap" }, state.providers[item.provider] || scalarText(item.provider)),
      el("td", { class: "mono nowrap" }, scalarText(item.operation)),
      el("td", {}, el("span", { class: "status " + statusClass(item.status) }, scalarText(item.status))),
      el("td", { class: "nowrap" }, codeCell(providerCode(item))),
      el("td", { class: "summary" }, summaryChips(item.summary)),
      el("td", { class: "rules" }, ruleChips(item.summary)),
      el("td", { class: "num nowrap" }, item.duration_ms === undefined ? "—" : Number(item.duration_ms).toFixed(1)));
    });
    replace($("journal-body"), rows);
    state.maxSeenId = items.reduce((m, i) => Math.max(m, i.id), previousMax || 0);
  }

  function codeCell(code) {
    return el("span", { class: "status code-" + (code.kind || "none"), dataset: { meaning: code.kind || "none" } },
      code.text);
  }

  function renderClock(clock) {
    if (!changed("clock", clock)) return;
    state.clock = clock;
    $("clock-mode").textContent = clock.mode;
    $("clock-mode").dataset.mode = clock.mode;
    $("clock-now").textContent = localDateTime(clock.now) + " CDMX";
    $("clock-utc").textContent = "UTC " + clock.now.replace("+00:00", "Z") +
      (clock.offset_seconds ? `  (offset ${clock.offset_seconds}s)` : "");
    $("unfreeze").disabled = clock.mode !== "frozen";
  }

  function renderRegistry(data) {
    const items = (data && data.uuids) || [];
    $("registry-count").textContent = String(items.length);
    show($("registry-empty"), items.length === 0);
    if (!changed("registry", items)) return;
    replace($("registry-body"), items.map((u) => el("tr", {},
      el("td", { class: "mono" }, scalarText(u.uuid)),
      el("td", {}, el("span", { class: "badge status-" + String(u.status) }, scalarText(u.status))),
      el("td", { class: "mono" }, scalarText(u.rfc_emisor)),
      el("td", {}, state.providers[u.provider] || scalarText(u.provider)),
      el("td", { class: "nowrap" }, localDateTime(u.updated_at)))));
  }

  function renderMail(data, unavailable) {
    if (unavailable) {
      $("mail-count").textContent = "";
      replace($("mail-body"));
      $("mail-empty").textContent = "This sandbox has no mail outbox (GET mail answered 404).";
      show($("mail-empty"), true);
      return;
    }
    const items = (data && data.messages) || [];
    state.mail = items;
    $("mail-count").textContent = String(items.length);
    $("mail-empty").textContent = "No mail sent.";
    show($("mail-empty"), items.length === 0);
    if (!changed("mail", items)) return;
    replace($("mail-body"), items.map((m) => el("tr", {
      class: "clickable", tabindex: "0", title: "Show headers and body", onclick: () => openMail(m),
      onkeydown: (e) => { if (e.key === "Enter") openMail(m); },
    },
    el("td", { class: "nowrap" }, localDateTime(m.created_at)),
    el("td", {}, Array.isArray(m.to) ? m.to.join(", ") : scalarText(m.to)),
    el("td", {}, scalarText(m.subject)),
    el("td", {}, el("span", { class: "status " + mailStatusClass(m.status) }, scalarText(m.status))),
    el("td", { class: "num" }, scalarText(m.attempts)),
    el("td", { class: m.last_error ? "bad" : "" }, m.last_error ? scalarText(m.last_error) : ""))));
  }

  function mailStatusClass(status) {
    const s = String(status || "").toLowerCase();
    if (s === "sent") return "ok";
    if (s === "failed" || s === "error") return "bad";
    return "warn";
  }

  // Provider job state has no fixed shape: lists of records become tables, the rest key/value lists.
  const LEADING_COLUMNS = ["uuid", "request_id", "id", "kind", "status", "state", "code"];
  const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

  function isRecordList(value) {
    return Array.isArray(value) && value.length > 0 &&
      value.every((v) => v && typeof v === "object" && !Array.isArray(v));
  }

  function cell(value) {
    if (typeof value === "string" && ISO_INSTANT.test(value)) {
      return el("td", { class: "nowrap", title: value }, localDateTime(value));
    }
    const text = scalarText(value);
    return el("td", { class: text.length > 40 ? "mono long" : "mono nowrap" }, text);
  }

  function recordTable(rows) {
    const columns = [];
    for (const row of rows) for (const k of Object.keys(row)) if (!columns.includes(k)) columns.push(k);
    const rank = (c) => (LEADING_COLUMNS.includes(c) ? LEADING_COLUMNS.indexOf(c) : LEADING_COLUMNS.length);
    columns.sort((a, b) => rank(a) - rank(b));
    return el("div", { class: "table-wrap short" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c)))),
      el("tbody", {}, rows.map((row) => el("tr", {}, columns.map((c) => cell(row[c])))))));
  }

  function renderValue(value) {
    if (Array.isArray(value)) {
      if (value.length === 0) return el("span", { class: "muted" }, "none");
      if (isRecordList(value)) return recordTable(value);
      return el("span", {}, value.map(scalarText).join(", "));
    }
    if (value && typeof value === "object") {
      const keys = Object.keys(value);
      if (keys.length === 0) return el("span", { class: "muted" }, "none");
      // Scalars and small mappings first as key/value pairs, then each list of records as its own table.
      const plain = keys.filter((k) => !isRecordList(value[k]));
      const tables = keys.filter((k) => isRecordList(value[k]));
      return el("div", {},
        plain.length ? el("dl", { class: "kv" }, plain.map((k) => [
          el("dt", {}, k),
          el("dd", {}, typeof value[k] === "object" && value[k] !== null ? renderValue(value[k]) : scalarText(value[k])),
        ])) : null,
        tables.map((k) => [el("h4", {}, k, " ", el("span", { class: "count" }, String(value[k].length))),
          recordTable(value[k])]));
    }
    return el("span", {}, scalarText(value));
  }

  function renderJobs(data) {
    const providers = Object.keys(data || {});
    show($("jobs-empty"), providers.every((p) => isEmpty(data[p])));
    if (!changed("jobs", data)) return;
    replace($("jobs"), providers.filter((p) => !isEmpty(data[p])).map((p) =>
      el("div", { class: "job-provider", dataset: { provider: p } },
        el("h3", {}, state.providers[p] || p), renderValue(data[p]))));
  }

  function isEmpty(value) {
    if (value === null || value === undefined) return true;
    if (Array.isArray(value)) return value.length === 0;
    if (typeof value === "object") return Object.values(value).every(isEmpty);
    return false;
  }

  function renderTimers(data) {
    const pending = (data && data.pending) || [];
    $("timers-count").textContent = String(pending.length);
    if (!changed("timers", pending)) return;
    replace($("timers"), pending.length ? renderValue(pending) : el("p", { class: "empty" }, "None pending."));
  }

  // ---- Detail dialog ---------------------------------------------------------------------------

  function openDialog(title, meta, a, b, findings) {
    $("detail-title").textContent = title;
    replace($("detail-findings"), (findings || []).map((f) =>
      el("li", { class: `finding finding-${f.severity}`, dataset: { check: f.check } },
        el("span", { class: "chip finding finding-" + f.severity }, f.check), " ", findingSentence(f))));
    show($("detail-findings-section"), (findings || []).length > 0);
    replace($("detail-meta"), meta.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, scalarText(v))]));
    $("detail-a-title").textContent = a.title;
    $("detail-a").textContent = a.text;
    $("detail-b-title").textContent = b.title;
    $("detail-b").textContent = b.text;
    const dialog = $("detail");
    if (!dialog.open) dialog.showModal();
  }

  // #request-<id> opens that entry's detail, so a link can point at one request.
  function openFromHash() {
    const match = /^#request-(\d+)$/.exec(location.hash);
    if (!match || $("detail").open) return;
    const item = state.journal.find((j) => j.id === Number(match[1]));
    if (item) openRequest(item);
  }

  async function openRequest(item) {
    if (location.hash !== `#request-${item.id}`) history.replaceState(null, "", `#request-${item.id}`);
    const meta = [["Time", item.at], ["Path", item.path], ["SOAP", item.soap_version], ["Status", item.status],
      ["Duration", `${item.duration_ms} ms`], ...Object.entries(item.summary || {}).filter(([k]) => k !== "findings")];
    const findings = (item.summary && item.summary.findings) || [];
    const title = `${state.providers[item.provider] || item.provider || ""} · ${item.operation || item.path}`;
    openDialog(title, meta, { title: "Request (secrets redacted)", text: "loading…" },
      { title: "Response", text: "loading…" }, findings);
    try {
      const full = await findEntry(item);
      if (!full) throw new Error("the entry is no longer in the journal");
      openDialog(title, meta, { title: "Request (secrets redacted)", text: prettyXml(full.request) || "(empty)" },
        { title: "Response", text: prettyXml(full.response) || "(empty)" }, findings);
    } catch (err) {
      openDialog(title, meta, { title: "Request", text: "Could not load it: " + err.message },
        { title: "Response", text: "" }, findings);
    }
  }

  // The journal is newest first: fetch with bodies down to this entry, widening if others arrived.
  async function findEntry(item) {
    const index = Math.max(0, state.journal.findIndex((j) => j.id === item.id));
    const query = new URLSearchParams({ limit: String(index + 20) });
    if (item.provider) query.set("provider", item.provider);
    if (item.operation) query.set("operation", item.operation);
    for (let attempt = 0; attempt < 3; attempt++) {
      const data = await api("GET", "requests?" + query);
      const found = (data.requests || []).find((r) => r.id === item.id);
      if (found || (data.requests || []).length < Number(query.get("limit"))) return found || null;
      query.set("limit", String(Number(query.get("limit")) * 4));
    }
    return null;
  }

  function openMail(m) {
    const headers = m.headers && typeof m.headers === "object"
      ? Object.entries(m.headers).map(([k, v]) => `${k}: ${scalarText(v)}`).join("\n") : scalarText(m.headers);
    openDialog(scalarText(m.subject), [["To", Array.isArray(m.to) ? m.to.join(", ") : m.to], ["Status", m.status],
      ["Attempts", m.attempts], ["Created", m.created_at], ["Sent", m.sent_at], ["Last error", m.last_error || "—"]],
    { title: "Headers", text: headers }, { title: "Body", text: scalarText(m.body) });
  }

  // ---- Polling ---------------------------------------------------------------------------------

  async function optional(promise) {
    try {
      return { data: await promise };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { missing: true };
      throw err;
    }
  }

  // One load at a time. A caller that changed something while one is under way gets a load after it:
  // the one under way may have read the state before the change.
  let loading = null;
  let reloading = null;
  function refresh() {
    if (!loading) {
      loading = load().finally(() => { loading = null; });
      return loading;
    }
    if (!reloading) reloading = loading.then(() => { reloading = null; return refresh(); });
    return reloading;
  }

  async function load() {
    try {
      const provider = $("provider-filter").value;
      const journalQuery = new URLSearchParams({ bodies: "0", limit: "200" });
      if (provider) journalQuery.set("provider", provider);
      const [health, journal, clock, scenarios, registry, mail, jobs, timers, sessions, conformance] = await Promise.all([
        api("GET", "health"),
        api("GET", "requests?" + journalQuery),
        api("GET", "clock"),
        api("GET", "scenarios"),
        optional(api("GET", "registry")),
        optional(api("GET", "mail")),
        optional(api("GET", "jobs")),
        optional(api("GET", "timers")),
        optional(api("GET", "sessions")),
        optional(api("GET", "conformance")),
      ]);
      for (const c of (conformance.data && conformance.data.checks) || []) state.checks[c.check] = c.title;
      renderHealth(health);
      renderSessions(sessions.data);
      renderJournal(journal);
      if (!state.hashHandled) {
        state.hashHandled = true;
        openFromHash();
      }
      renderClock(clock);
      renderOverlay(scenarios);
      renderRegistry(registry.data);
      renderMail(mail.data, mail.missing);
      renderJobs(jobs.data || {});
      renderTimers(timers.data);
      show($("token-form"), false);
      setLive("ok", "live");
      document.body.dataset.loaded = "true";
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        show($("token-form"), true);
        setLive("error", "token required");
      } else {
        setLive("error", "offline: " + err.message);
      }
    }
  }

  async function act(label, method, path, body) {
    try {
      await api(method, path, body);
      notice(label, "ok");
      setTimeout(() => notice(""), 2500);
    } catch (err) {
      notice(`${label} failed: ${err.message}`, "error");
    }
    await refresh();
  }

  function advance(duration) {
    if (duration) act(`Clock advanced ${duration}`, "POST", "clock", { advance: duration });
  }

  function wire() {
    $("pause").addEventListener("click", () => {
      state.paused = !state.paused;
      $("pause").textContent = state.paused ? "Resume" : "Pause";
      $("pause").setAttribute("aria-pressed", String(state.paused));
      if (state.paused) setLive("paused", "paused");
      else refresh();
    });
    $("reset").addEventListener("click", async () => {
      const session = state.session || "default";
      let scope;
      if (session === "default") {
        // At the top level the server resets every session, not only the default one: say so.
        let others = [];
        try {
          others = ((await api("GET", "sessions")).sessions || []).map((s) => s.session).filter((s) => s !== "default");
        } catch {
          others = [];
        }
        scope = "EVERY session: the default session" +
          (others.length ? ` and ${others.length} other${others.length > 1 ? "s" : ""} (${others.slice(0, 5).join(", ")}` +
            `${others.length > 5 ? ", …" : ""})` : "") +
          " — their journals, jobs, SAT registry, mail, timers, clocks and overlays";
      } else {
        scope = `session "${session}" only — its journal, jobs, SAT registry, mail, timers, clock and overlay ` +
          "(other sessions are kept)";
      }
      if (confirm(`Reset ${scope}? The scenarios file is kept.`)) act("State reset", "POST", "reset", {});
    });
    $("session-picker").addEventListener("change", (e) => {
      if (e.target.value && e.target.value !== state.session) location.assign(sessionUrl(e.target.value));
    });
    $("advance-form").addEventListener("submit", (e) => {
      e.preventDefault();
      advance($("advance-input").value.trim());
    });
    for (const button of document.querySelectorAll("[data-advance]")) {
      button.addEventListener("click", () => advance(button.dataset.advance));
    }
    $("freeze").addEventListener("click", () => act("Clock frozen", "POST", "clock", { freeze: "now" }));
    $("unfreeze").addEventListener("click", async () => {
      // The frozen instant as the server holds it now: the page's copy may be older than the last action.
      let clock;
      try {
        clock = await api("GET", "clock");
      } catch (err) {
        notice(`Clock running failed: ${err.message}`, "error");
        return;
      }
      const frozen = parseDate(clock.frozen_at);
      if (!frozen) return refresh();
      // Keep the frozen instant and let time run on from there: an offset from real time.
      act("Clock running", "POST", "clock", { offset: Math.round((frozen.getTime() - Date.now()) / 1000) });
    });
    $("clock-reset").addEventListener("click", () => act("Clock reset", "POST", "clock", { reset: true }));
    $("provider-filter").addEventListener("change", () => refresh());
    $("detail-close").addEventListener("click", () => $("detail").close());
    $("detail").addEventListener("close", () => {
      if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    });
    window.addEventListener("hashchange", openFromHash);
    $("detail").addEventListener("click", (e) => { if (e.target === $("detail")) $("detail").close(); });
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      token = $("token-input").value;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token-input").value = "";
      refresh();
    });
  }

  function tick() {
    if (!state.paused && !document.hidden && !loading) refresh();
  }

  wire();
  refresh();
  setInterval(tick, POLL_MS);
})();
