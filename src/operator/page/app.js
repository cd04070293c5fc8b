// The status page: asks /status.json with the operator's bearer token every few seconds,
// and /logs when the operator downloads the logs; the directory browser asks the SCIM API,
// /groups/{id}/members and /events?resource=… when the operator searches or opens a resource. The token lives only in this tab's
// sessionStorage (never a cookie, never the URL); every value is written with textContent, so
// nothing from the server is parsed as HTML.
"use strict";

(function () {
  const KEY = "scim-bridge-token";
  const REFRESH_MS = 5000;
  const REFUSED = "The bridge did not accept this token. Check it and try again.";
  let timer = null;
  let lastActivity = [];

  const $ = (id) => document.getElementById(id);

  function setText(id, value) {
    $(id).textContent = value === null || value === undefined ? "–" : String(value);
  }

  function setState(el, state) {
    el.classList.remove("state-healthy", "state-degraded", "state-unhealthy");
    if (state) el.classList.add("state-" + state);
  }

  function uptime(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    if (d > 0) return d + "d " + h + "h " + m + "m";
    if (h > 0) return h + "h " + m + "m " + s + "s";
    return m + "m " + s + "s";
  }

  // A date and time in the operator's locale, with the days left or past.
  function when(iso) {
    if (!iso) return null;
    const t = new Date(iso);
    const days = Math.round((t.getTime() - Date.now()) / 86400000);
    const rel = days > 0 ? "in " + days + " d" : days < 0 ? -days + " d ago" : "today";
    return t.toLocaleString() + " (" + rel + ")";
  }

  // "CN=Pebble Intermediate CA 3febb7, O=…" → "Pebble Intermediate CA 3febb7".
  function commonName(dn) {
    const m = /(?:^|,\s*)CN=([^,]+)/.exec(dn);
    return m ? m[1] : dn;
  }

  function showError(message) {
    const e = $("error");
    e.textContent = message;
    e.hidden = !message;
  }

  function signedIn(on) {
    $("signin").hidden = on;
    $("dashboard").hidden = !on;
    $("sign-out").hidden = !on;
    $("overall").hidden = !on;
  }

  function signOut(message) {
    if (timer) clearTimeout(timer);
    timer = null;
    sessionStorage.removeItem(KEY);
    lastActivity = [];
    downloadError("");
    closeResource();
    $("results").replaceChildren();
    $("results-table").hidden = true;
    $("results-pager").hidden = true;
    signedIn(false);
    showError(message || "");
    $("token").value = "";
    $("token").focus();
  }

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) {
      const td = document.createElement("td");
      td.textContent = c === null || c === undefined ? "" : String(c);
      tr.appendChild(td);
    }
    return tr;
  }

  function render(doc) {
    setText("version", doc.version);
    setText("build", doc.build);
    setText("uptime", uptime(doc.uptimeSeconds || 0));
    setText("updated", new Date(doc.retrievedAt).toLocaleTimeString());
    const overall = $("overall");
    const reports = doc.reports || [];
    const worst = reports.some((r) => r.state === "unhealthy") ? "unhealthy"
      : reports.some((r) => r.state === "degraded") ? "degraded" : "healthy";
    overall.textContent = worst;
    setState(overall, worst);

    setText("store-kind", doc.store && doc.store.kind);
    const store = reports.find((r) => r.source === "Store");
    setText("store-state", store ? store.state : null);
    setState($("store-state"), store && store.state);
    $("store-detail").textContent = store && store.details ? store.details.join(" ") : "";

    const cert = doc.certificate;
    const certReport = reports.find((r) => r.source === "CertificateManager");
    $("cert-card").hidden = !cert;
    if (cert) {
      setText("cert-domain", cert.domain);
      setText("cert-issuer", cert.issuer ? commonName(cert.issuer) : "none yet");
      $("cert-issuer").title = cert.issuer || "";
      setText("cert-expires", when(cert.notAfter));
      setText("cert-renewal", cert.source === "acme" ? when(cert.nextRenewal) : "files (reloaded on change)");
      setText("cert-state", certReport ? certReport.state : null);
      setState($("cert-state"), certReport && certReport.state);
      $("cert-detail").textContent = cert.lastError
        ? "Renewal failing (" + cert.failures + "×): " + cert.lastError : "";
    }

    const c = doc.counts;
    setText("users-total", c ? c.users.total : null);
    setText("users-active", c ? c.users.active : null);
    setText("users-inactive", c ? c.users.inactive : null);
    setText("groups", c ? c.groups : null);
    $("counted-at").textContent = c
      ? "Active/inactive counted at " + new Date(c.activeCountedAt).toLocaleTimeString()
      : "Counts unavailable (see the Store report).";

    const tbody = $("reports");
    tbody.replaceChildren(...reports.map((r) => {
      const tr = row([r.source, r.state, (r.details || []).join(" ")]);
      setState(tr.children[1], r.state);
      return tr;
    }));

    const localTime = (iso) => (iso ? new Date(iso).toLocaleString() : null);
    $("tokens").replaceChildren(...(doc.tokens || []).map((t) => {
      const state = t.active ? (t.expiresAt ? "expiring" : "active") : "expired";
      const tr = row([t.label, t.scope || "scim", state, localTime(t.createdAt),
        t.expiresAt ? when(t.expiresAt) : "never", t.lastUsedAt ? when(t.lastUsedAt) : "never"]);
      setState(tr.children[2], t.active ? (t.expiresAt ? "degraded" : "healthy") : "unhealthy");
      return tr;
    }));

    const hooks = doc.webhooks || [];
    $("webhooks-card").hidden = hooks.length === 0;
    $("webhooks").replaceChildren(...hooks.map((w) => {
      const state = w.enabled ? (w.lastError ? "failing" : "delivering") : "disabled";
      const tr = row([w.name + " " + w.url, state, String(w.backlog),
        w.lagSeconds ? Math.round(w.lagSeconds) + " s" : "–", String(w.delivered),
        String(w.deadLetters), w.disabled ? w.disabled.reason : (w.lastError || "–"),
        w.nextAttemptAt ? when(w.nextAttemptAt) : "–", ""]);
      setState(tr.children[1], w.enabled ? (w.lastError ? "degraded" : "healthy") : "unhealthy");
      const actions = tr.lastChild;
      const button = (label, action, show) => {
        if (!show) return;
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = label;
        b.dataset.endpoint = w.name;
        b.dataset.action = action;
        b.addEventListener("click", () => act(w.name, action));
        actions.appendChild(b);
      };
      button("Enable", "enable", !w.enabled);
      button("Replay", "replay", w.deadLetters > 0);
      return tr;
    }));

    const activity = doc.activity || [];
    lastActivity = activity;
    $("activity").replaceChildren(...activity.map((a) => row([
      new Date(a.time).toLocaleTimeString(), a.userAgent, a.method, a.resourceType,
      a.resourceId, a.status, a.latencyMs + " ms",
    ])));
    $("activity-empty").hidden = activity.length > 0;
    renderGuard(doc.deprovisionGuard);
    renderWorkspace(doc.workspace);
    renderCharts(doc.charts);
  }

  // ---- The operator's requests beyond /status.json: the SCIM API, a group's members, a
  // resource's history and the guard's release, each with the token in the header.

  // `{status, doc}` of a request (with `body` sent as JSON), `null` when the bridge cannot be
  // reached; a refused token signs out.
  async function call(path, method, body) {
    const token = sessionStorage.getItem(KEY);
    if (!token) { signOut(""); return null; }
    const headers = { Authorization: "Bearer " + token, Accept: "application/scim+json, application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method: method || "GET",
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      return null;
    }
    if (res.status === 401) { signOut(REFUSED); return null; }
    let doc = null;
    try { doc = await res.json(); } catch (e) { doc = null; }
    return { status: res.status, doc: doc };
  }

  // Why a request failed, for a message line: the SCIM error's detail when there is one.
  function failure(r) {
    if (!r) return "Cannot reach the bridge.";
    const detail = r.doc && r.doc.detail ? ": " + r.doc.detail : "";
    return "The bridge answered " + r.status + detail;
  }

  function message(id, text) {
    const e = $(id);
    e.textContent = text;
    e.hidden = !text;
  }

  // A SCIM filter string literal.
  function quoted(text) {
    return "\"" + text.replace(/\\/g, "\\\\").replace(/"/g, "\\\"") + "\"";
  }

  // Shown values: strings as they are, the rest as JSON, long ones cut.
  function shown(v) {
    if (v === undefined) return "–";
    if (v === null) return "(unset)";
    const text = typeof v === "string" ? v : JSON.stringify(v);
    return text.length > 200 ? text.slice(0, 199) + "…" : text;
  }

  // A button that looks like a link and opens a resource of the directory.
  function opener(label, kind, id) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link";
    b.textContent = label === null || label === undefined || label === "" ? id : String(label);
    b.dataset.kind = kind;
    b.dataset.id = id;
    b.addEventListener("click", () => openResource(kind, id));
    return b;
  }

  const PAGE = 20;
  const search = { kind: "Users", text: "", start: 1, total: 0 };

  function searchPath() {
    const q = search.text;
    let filter = null;
    if (q) {
      const v = quoted(q);
      filter = search.kind === "Users"
        ? "userName co " + v + " or emails.value co " + v + " or externalId eq " + v + " or displayName co " + v
        : "displayName co " + v + " or externalId eq " + v;
    }
    const attributes = search.kind === "Users"
      ? "userName,displayName,active,externalId,emails" : "displayName,externalId";
    return "/scim/v2/" + search.kind + "?startIndex=" + search.start + "&count=" + PAGE
      + "&attributes=" + attributes + (filter ? "&filter=" + encodeURIComponent(filter) : "");
  }

  async function runSearch() {
    message("search-error", "");
    const r = await call(searchPath());
    if (!r) return message("search-error", failure(r));
    if (r.status !== 200 || !r.doc) return message("search-error", failure(r));
    const list = r.doc.Resources || [];
    search.total = r.doc.totalResults || 0;
    const users = search.kind === "Users";
    const head = row(users ? ["userName", "Display name", "Email", "externalId", "State"]
      : ["Display name", "externalId", "Id"]);
    head.querySelectorAll("td").forEach((td) => {
      const th = document.createElement("th");
      th.textContent = td.textContent;
      td.replaceWith(th);
    });
    $("results-head").replaceChildren(head);
    $("results").replaceChildren(...list.map((res) => {
      if (!users) {
        const tr = row(["", res.externalId, res.id]);
        tr.firstChild.appendChild(opener(res.displayName, "Groups", res.id));
        return tr;
      }
      const email = (res.emails || []).find((e) => e.primary) || (res.emails || [])[0];
      const active = res.active !== false;
      const tr = row(["", res.displayName, email ? email.value : "", res.externalId, active ? "active" : "inactive"]);
      tr.firstChild.appendChild(opener(res.userName, "Users", res.id));
      setState(tr.children[4], active ? "healthy" : "unhealthy");
      return tr;
    }));
    $("results-table").hidden = false;
    $("results-pager").hidden = false;
    const last = search.start - 1 + list.length;
    $("results-range").textContent = search.total === 0 ? "Nothing matches."
      : search.start + "–" + last + " of " + search.total;
    $("results-prev").disabled = search.start <= 1;
    $("results-next").disabled = last >= search.total;
  }

  // ---- One resource: its attributes, state and groups (a user) or its paged members (a
  // group), and its history from the event log.

  // The resource shown; `names` are the display names of the groups it is in (for its history).
  const current = { kind: null, id: null, membersAfter: null, membersSeen: 0, names: {} };

  // Paths and values of a document, one row per leaf (sub-attributes as name.sub).
  function flatten(doc) {
    const skip = ["schemas", "id", "meta", "groups", "members"];
    const rows = [];
    const walk = (prefix, v) => {
      if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [k, x] of Object.entries(v)) walk(prefix ? prefix + (k.startsWith("urn:") ? ":" : ".") + k : k, x);
      } else {
        rows.push([prefix, v]);
      }
    };
    for (const [k, v] of Object.entries(doc)) {
      if (skip.includes(k)) continue;
      if (k.startsWith("urn:") && v && typeof v === "object") {
        for (const [a, x] of Object.entries(v)) walk(k + ":" + a, x);
      } else {
        walk(k, v);
      }
    }
    return rows;
  }

  function fact(dl, name, value, state) {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value === null || value === undefined ? "–" : String(value);
    if (state) setState(dd, state);
    dl.append(dt, dd);
  }

  async function openResource(kind, id) {
    current.kind = kind;
    current.id = id;
    current.names = {};
    // A link to this resource (its kind and id, never the token) that opens it after sign-in.
    window.history.replaceState(null, "", "#" + kind + "/" + encodeURIComponent(id));
    $("resource").hidden = false;
    message("resource-error", "");
    $("resource-title").textContent = (kind === "Users" ? "User " : "Group ") + id;
    for (const part of ["resource-facts", "resource-attributes", "resource-groups", "resource-members", "history"]) {
      $(part).replaceChildren();
    }
    $("resource-groups-part").hidden = true;
    $("resource-members-part").hidden = true;
    $("history-empty").hidden = true;
    $("history-more").hidden = true;
    const path = "/scim/v2/" + kind + "/" + encodeURIComponent(id) + (kind === "Groups" ? "?excludedAttributes=members" : "");
    const [r] = await Promise.all([call(path), loadHistory(true)]);
    $("resource").scrollIntoView();
    if (!r || r.status !== 200 || !r.doc) {
      const gone = r && r.status === 404 ? "It no longer exists (deleted); its history stays until retention trims it." : failure(r);
      return message("resource-error", gone);
    }
    const doc = r.doc;
    const dl = $("resource-facts");
    if (kind === "Users") {
      $("resource-title").textContent = "User " + (doc.userName || id);
      const active = doc.active !== false;
      fact(dl, "State", active ? "active" : "inactive", active ? "healthy" : "unhealthy");
    } else {
      $("resource-title").textContent = "Group " + (doc.displayName || id);
    }
    fact(dl, "Id", doc.id);
    fact(dl, "externalId", doc.externalId);
    const meta = doc.meta || {};
    fact(dl, "Created", meta.created ? new Date(meta.created).toLocaleString() : null);
    fact(dl, "Last modified", meta.lastModified ? new Date(meta.lastModified).toLocaleString() : null);
    $("resource-attributes").replaceChildren(...flatten(doc).map(([p, v]) => row([p, shown(v)])));
    if (kind === "Users") {
      const groups = doc.groups || [];
      for (const g of groups) current.names[g.value] = g.display;
      renderHistory();
      $("resource-groups-part").hidden = false;
      $("resource-groups").replaceChildren(...(groups.length ? groups.map((g) => {
        const li = document.createElement("li");
        li.appendChild(opener(g.display, "Groups", g.value));
        return li;
      }) : [Object.assign(document.createElement("li"), { textContent: "In no group." })]));
    } else {
      $("resource-members-part").hidden = false;
      current.membersAfter = null;
      current.membersSeen = 0;
      await loadMembers();
    }
  }

  async function loadMembers() {
    const id = current.id;
    const after = current.membersAfter ? "&after=" + encodeURIComponent(current.membersAfter) : "";
    const r = await call("/groups/" + encodeURIComponent(id) + "/members?count=50" + after);
    if (current.id !== id) return;
    if (!r || r.status !== 200 || !r.doc) return message("resource-error", failure(r));
    const doc = r.doc;
    $("resource-members-title").textContent = "Members (" + doc.totalResults + ")";
    $("resource-members").replaceChildren(...doc.members.map((m) => {
      const tr = row(["", m.type || "?", m.value]);
      tr.firstChild.appendChild(m.type === "Group" ? opener(m.display, "Groups", m.value)
        : m.type === "User" ? opener(m.display, "Users", m.value)
          : document.createTextNode("(not found)"));
      return tr;
    }));
    const first = current.membersSeen + 1;
    current.membersSeen += doc.members.length;
    $("members-range").textContent = doc.totalResults === 0 ? "No members."
      : first + "–" + current.membersSeen + " of " + doc.totalResults;
    current.membersAfter = doc.next;
    $("members-next").disabled = !doc.next;
    $("members-first").disabled = first === 1;
  }

  // ---- The history: every page of /events?resource=… (bounded), shown newest first.

  const HISTORY_PAGE = 500;
  const HISTORY_PAGES = 10;
  const timeline = { next: 0, events: [] };

  // The value of `path` (`name.givenName`, `urn:…:User:manager`, `emails`) in a document.
  function valueAt(doc, path) {
    if (!doc) return undefined;
    if (Object.prototype.hasOwnProperty.call(doc, path)) return doc[path];
    if (path.startsWith("urn:")) {
      const cut = path.lastIndexOf(":");
      const ext = doc[path.slice(0, cut)];
      return ext ? ext[path.slice(cut + 1)] : undefined;
    }
    const dot = path.indexOf(".");
    if (dot > 0 && doc[path.slice(0, dot)]) return doc[path.slice(0, dot)][path.slice(dot + 1)];
    return undefined;
  }

  // The Changes cell: one line per changed path, old → new when the log keeps values.
  function changes(ev) {
    const cell = document.createElement("td");
    const line = (text, node) => {
      const div = document.createElement("div");
      div.textContent = text;
      if (node) div.appendChild(node);
      cell.appendChild(div);
    };
    if (ev.members) {
      const onGroup = ev.resource.type === "Group" && !(current.kind === "Groups" && current.id === ev.resource.id);
      const verb = ev.type === "group.members.added" ? "joined " : "left ";
      if (onGroup) line(verb, opener(current.names[ev.resource.id], "Groups", ev.resource.id));
      else {
        // On the group's own page: how many, and the first few, each opening the user (a
        // deleted one's page still shows her history).
        const n = ev.members.length;
        line(n + " member" + (n === 1 ? " " : "s ") + (ev.type === "group.members.added" ? "added" : "removed") + ":");
        const div = cell.lastChild;
        for (const m of ev.members.slice(0, 10)) {
          div.append(" ", opener(m, "Users", m));
        }
        if (n > 10) div.append(" and " + (n - 10) + " more");
      }
      return cell;
    }
    const full = ev.data !== undefined;
    const created = ev.type.endsWith(".created");
    for (const path of ev.changed || []) {
      if (!full) { line(path); continue; }
      const now = valueAt(ev.data, path);
      if (created) line(path + " = " + shown(now));
      else line(path + ": " + shown(ev.previous ? ev.previous[path] : undefined) + " → " + shown(now));
    }
    if (!full && (ev.changed || []).length) line("(values not kept: OP_EVENTS_DATA=ids)");
    return cell;
  }

  async function loadHistory(fresh) {
    const kind = current.kind;
    const id = current.id;
    if (fresh) { timeline.next = 0; timeline.events = []; }
    const type = kind === "Users" ? "User" : "Group";
    for (let i = 0; i < HISTORY_PAGES; i++) {
      const r = await call("/events?resource=" + type + "/" + encodeURIComponent(id) + "&after=" + timeline.next + "&limit=" + HISTORY_PAGE);
      if (current.id !== id) return;
      if (!r || r.status !== 200 || !r.doc) return message("resource-error", "History: " + failure(r));
      timeline.events.push(...r.doc.events);
      timeline.next = r.doc.next;
      if (r.doc.events.length < HISTORY_PAGE) { $("history-more").hidden = true; break; }
      $("history-more").hidden = false;
    }
    renderHistory();
  }

  function renderHistory() {
    const shownEvents = timeline.events.slice().reverse();
    $("history").replaceChildren(...shownEvents.map((ev) => {
      const by = ev.actor ? ev.actor.token + (ev.actor.userAgent ? " (" + ev.actor.userAgent + ")" : "") : "";
      const tr = row([new Date(ev.time).toLocaleString(), ev.type, by]);
      tr.dataset.type = ev.type;
      tr.appendChild(changes(ev));
      const quirks = document.createElement("td");
      quirks.textContent = (ev.normalized || []).join(", ") || "–";
      tr.appendChild(quirks);
      if (ev.type === "user.deactivated" || ev.type === "user.deleted") setState(tr.children[1], "unhealthy");
      return tr;
    }));
    $("history-empty").hidden = timeline.events.length > 0;
  }

  // ---- The deprovisioning guard: its state from /status.json, and its release.

  function renderGuard(g) {
    const state = $("guard-state");
    const table = $("guard-table");
    const button = $("guard-release");
    setState(state, null);
    if (g === null || g === undefined) {
      state.textContent = "Cannot be read (see the Store report).";
      button.hidden = true;
      table.hidden = true;
      return;
    }
    if (!g.enabled) {
      state.textContent = "Off. Set OP_DEPROVISION_LIMIT to stop a mass deactivation (see the README).";
      button.hidden = true;
      table.hidden = true;
      return;
    }
    const span = Math.round(g.windowSeconds / 60) + " min";
    if (g.holding) {
      state.textContent = "Holding since " + new Date(g.heldSince).toLocaleString() + ": "
        + g.heldRequests + " deactivation" + (g.heldRequests === 1 ? "" : "s") + " or deletions refused (503) after "
        + g.count + " of " + g.limit + " in " + span + ". Check the identity provider, then release: its retries will then go through.";
      setState(state, "unhealthy");
    } else {
      state.textContent = "Watching: " + g.count + " of " + g.limit + " deactivations and deletions allowed in the "
        + span + " window since " + new Date(g.windowStart).toLocaleTimeString() + ".";
      setState(state, "healthy");
    }
    button.hidden = !g.holding;
    const recent = g.recent || [];
    table.hidden = recent.length === 0;
    $("guard-recent").replaceChildren(...recent.map((h) => {
      const tr = row([new Date(h.at).toLocaleString(), h.type, "", h.token]);
      tr.children[2].appendChild(opener(h.id, "Users", h.id));
      return tr;
    }));
  }

  async function releaseGuard() {
    message("guard-message", "");
    const r = await call("/guard/release", "POST");
    if (!r || r.status !== 200 || !r.doc) return message("guard-message", failure(r) + "; the guard still holds.");
    message("guard-message", "Released" + (r.doc.wasHolding ? ": " + r.doc.heldRequests + " refused request(s) will go through when the identity provider retries." : " (it was not holding)."));
    if (timer) clearTimeout(timer);
    refresh();
  }

  // ---- Google Workspace: the last sync, the groups picked, and the buttons.


  function renderWorkspace(w) {
    const card = $("workspace-card");
    card.hidden = !w || !w.enabled;
    if (card.hidden) return;
    const sel = w.selection;
    $("workspace-selection").textContent = sel === null || sel === undefined ? "none picked yet: nothing is synced"
      : sel === "*" ? "every group (everyone)" : sel.join(", ") + (w.groupsFromSettings ? " (OP_WORKSPACE_GROUPS)" : "");
    $("workspace-pick").hidden = w.groupsFromSettings;
    const s = w.lastSync;
    const state = $("workspace-state");
    setState(state, null);
    if (w.fileError) {
      state.textContent = w.fileError;
      setState(state, "unhealthy");
    } else if (!s) {
      state.textContent = w.running ? "running…" : "none yet";
    } else {
      state.textContent = s.state + (w.running ? " (another running)" : "");
      setState(state, s.state === "ok" || s.state === "idle" ? "healthy" : "degraded");
    }
    setText("workspace-when", s ? new Date(s.startedAt).toLocaleString() + ", " + (s.durationMs / 1000).toFixed(1) + " s" : null);
    setText("workspace-seen", s ? s.usersSeen + " users (" + s.usersInScope + " in scope), " + s.groupsSeen + " groups (" + s.groupsSynced + " synced)" : null);
    setText("workspace-applied", s ? s.created + " created, " + s.updated + " updated, " + s.unchanged + " unchanged, "
      + s.adopted + " adopted, " + s.deactivated + " deactivated, " + s.deleted + " deleted"
      + (s.held ? ", " + s.held + " held by the deprovisioning guard" : "")
      + "; members +" + s.membersAdded + " −" + s.membersRemoved : null);
    const adoptions = $("workspace-adoptions");
    adoptions.hidden = !s || !s.adoptions || s.adoptions.length === 0;
    if (!adoptions.hidden) {
      adoptions.replaceChildren(document.createTextNode("Adopted (existing users matched by userName): "));
      for (const id of s.adoptions) adoptions.append(opener(id, "Users", id), " ");
    }
    $("workspace-errors").replaceChildren(...((s && s.errors) || []).map((e) => {
      const li = document.createElement("li");
      li.textContent = e;
      return li;
    }));
  }

  async function pickGroups() {
    message("workspace-message", "Reading Google's groups…");
    const r = await call("/workspace/groups");
    if (!r || r.status !== 200 || !r.doc) return message("workspace-message", failure(r));
    message("workspace-message", "");
    $("workspace-all").checked = r.doc.all;
    $("workspace-list").replaceChildren(...r.doc.groups.map((g) => {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.value = g.email;
      box.checked = g.selected && !r.doc.all;
      label.append(box, " " + (g.name || g.email) + " (" + g.email + ")");
      return label;
    }));
    if (r.doc.groups.length === 0) $("workspace-list").textContent = "Google lists no groups.";
    $("workspace-groups").hidden = false;
  }

  async function saveGroups(ev) {
    ev.preventDefault();
    const all = $("workspace-all").checked;
    const emails = [...$("workspace-list").querySelectorAll("input:checked")].map((b) => b.value);
    const r = await call("/workspace/selection", "PUT", { groups: all ? "*" : emails });
    if (!r || r.status !== 200) return message("workspace-message", failure(r) + "; nothing was changed.");
    $("workspace-groups").hidden = true;
    message("workspace-message", "Saved; a sync has started.");
    if (timer) clearTimeout(timer);
    refresh();
  }

  async function syncNow() {
    const r = await call("/workspace/sync", "POST");
    message("workspace-message", r && r.status === 202 ? "A sync has started." : failure(r));
  }

  // ---- Charts: inline SVG built from /status.json (no library, no CDN).

  // The SVG namespace: a name, never fetched.
  const SVG = "http://www.w3.org/2000/svg";
  const W = 600, H = 150, LEFT = 44, BOTTOM = 18, TOP = 8;

  function svg(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // A round upper bound for an axis: 1, 2 or 5 times a power of ten.
  function ceiling(max) {
    if (!(max > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 5, 10]) if (max <= m * p) return m * p;
    return 10 * p;
  }

  function axes(el, top, unit) {
    el.replaceChildren(
      svg("line", { x1: LEFT, y1: H - BOTTOM, x2: W, y2: H - BOTTOM, class: "axis" }),
      svg("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, class: "axis" }),
      svg("text", { x: LEFT - 4, y: TOP + 8, class: "tick end" }, top + unit),
      svg("text", { x: LEFT - 4, y: H - BOTTOM, class: "tick end" }, "0"),
      svg("text", { x: LEFT, y: H - 4, class: "tick" }, "−60 min"),
      svg("text", { x: W, y: H - 4, class: "tick end" }, "now"));
  }

  const x = (i, n) => LEFT + (W - LEFT) * i / n;
  const y = (v, top) => H - BOTTOM - (H - BOTTOM - TOP) * Math.min(v, top) / top;

  function minuteLabel(start, i) {
    return new Date(new Date(start).getTime() + i * 60000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function barChart(el, start, minutes) {
    const keys = ["2xx", "4xx", "5xx"];
    const top = ceiling(Math.max(0, ...minutes.map((m) => keys.reduce((s, k) => s + m[k], 0))));
    axes(el, top, "");
    const n = minutes.length;
    const w = (W - LEFT) / n;
    minutes.forEach((m, i) => {
      let base = 0;
      const g = svg("g");
      g.appendChild(svg("title", {}, minuteLabel(start, i) + ": " + keys.map((k) => m[k] + " " + k).join(", ")));
      for (const k of keys) {
        if (!m[k]) continue;
        const y0 = y(base, top);
        base += m[k];
        const y1 = y(base, top);
        g.appendChild(svg("rect", { x: x(i, n) + 0.5, y: y1, width: Math.max(w - 1, 1), height: Math.max(y0 - y1, 1), class: "s-" + k }));
      }
      el.appendChild(g);
    });
  }

  // Lines of several series with gaps where a minute has no value.
  function lineChart(el, start, series, unit) {
    const all = series.flatMap((s) => s.values.filter((v) => v !== null));
    const top = ceiling(Math.max(0, ...all));
    axes(el, top, unit);
    for (const s of series) {
      const n = s.values.length;
      let d = "";
      let pen = false;
      s.values.forEach((v, i) => {
        if (v === null) { pen = false; return; }
        const px = x(i + 0.5, n).toFixed(1);
        const py = y(v, top).toFixed(1);
        d += (pen ? " L" : " M") + px + " " + py;
        pen = true;
        const dot = svg("circle", { cx: px, cy: py, r: 1.8, class: s.cls });
        dot.appendChild(svg("title", {}, s.name + " at " + minuteLabel(start, i) + ": " + v + " " + unit.trim()));
        el.appendChild(dot);
      });
      if (d) el.insertBefore(svg("path", { d: d.trim(), class: "line " + s.cls }), el.firstChild);
    }
  }

  function renderCharts(charts) {
    if (!charts) return;
    const minutes = charts.requests || [];
    barChart($("chart-requests"), charts.start, minutes);
    lineChart($("chart-latency"), charts.start, [
      { name: "p50", cls: "l-p50", values: minutes.map((m) => m.p50Ms) },
      { name: "p99", cls: "l-p99", values: minutes.map((m) => m.p99Ms) },
    ], " ms");
    const names = Object.keys(charts.lag || {}).sort();
    $("chart-lag-part").hidden = names.length === 0;
    if (names.length) {
      const series = names.map((name, i) => ({ name: name, cls: "l-" + (i % 6), values: charts.lag[name] }));
      lineChart($("chart-lag"), charts.start, series, " s");
      $("lag-keys").replaceChildren(...series.map((s) => {
        const k = document.createElement("span");
        k.className = "key " + s.cls;
        k.textContent = s.name;
        return k;
      }));
    }
  }

  // A GET with the operator's token in the header: never a cookie, never the URL.
  function getWithToken(path, token, accept) {
    return fetch(path, {
      headers: { Authorization: "Bearer " + token, Accept: accept },
      cache: "no-store",
      credentials: "omit",
    });
  }

  function webhookError(message) {
    const e = $("webhook-error");
    e.textContent = message;
    e.hidden = !message;
  }

  // An operator's action on a webhook endpoint: a POST with the token, then a fresh look.
  async function act(name, action) {
    const token = sessionStorage.getItem(KEY);
    if (!token) return signOut("");
    webhookError("");
    let res;
    try {
      res = await fetch("/webhooks/" + encodeURIComponent(name) + "/" + action, {
        method: "POST",
        headers: { Authorization: "Bearer " + token },
        cache: "no-store",
        credentials: "omit",
      });
    } catch (e) {
      return webhookError("Cannot reach the bridge; nothing was changed.");
    }
    if (res.status === 401) return signOut(REFUSED);
    if (!res.ok) return webhookError("The bridge answered " + res.status + "; nothing was changed.");
    webhookError(action === "enable" ? "Enabled " + name + "." : "Replaying the dead letters of " + name + ".");
    if (timer) clearTimeout(timer);
    refresh();
  }

  // Closes the resource shown and drops its link.
  function closeResource() {
    current.kind = null;
    current.id = null;
    $("resource").hidden = true;
    if (location.hash) window.history.replaceState(null, "", location.pathname + location.search);
  }

  // After sign-in, opens the resource a link names (`#Users/{id}` or `#Groups/{id}`).
  function openLinked() {
    const m = /^#(Users|Groups)\/(.+)$/.exec(location.hash);
    if (m && current.id === null) openResource(m[1], decodeURIComponent(m[2]));
  }

  async function refresh() {
    timer = null;
    const token = sessionStorage.getItem(KEY);
    if (!token) return signOut("");
    let res;
    try {
      res = await getWithToken("/status.json", token, "application/json");
    } catch (e) {
      $("stale").textContent = "Cannot reach the bridge; retrying…";
      $("stale").hidden = false;
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    if (res.status === 401) return signOut(REFUSED);
    if (!res.ok) {
      $("stale").textContent = "The bridge answered " + res.status + "; retrying…";
      $("stale").hidden = false;
      timer = setTimeout(refresh, REFRESH_MS);
      return;
    }
    try {
      render(await res.json());
      $("stale").hidden = true;
      showError("");
      signedIn(true);
      openLinked();
    } catch (e) {
      $("stale").textContent = "Unexpected answer from the bridge; retrying…";
      $("stale").hidden = false;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  // Saves a Blob under a name through a temporary link (a download, not a navigation).
  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  // The file name from Content-Disposition, if it is a plain one.
  function fileName(disposition) {
    const m = /filename="([A-Za-z0-9._-]+)"/.exec(disposition || "");
    return m ? m[1] : "scim-bridge.log";
  }

  function downloadError(message) {
    const e = $("download-error");
    e.textContent = message;
    e.hidden = !message;
  }

  // The recent log lines: fetched with the token (a link cannot send the header), then saved.
  async function downloadLogs() {
    const token = sessionStorage.getItem(KEY);
    if (!token) return signOut("");
    downloadError("");
    let res;
    try {
      res = await getWithToken("/logs", token, "text/plain");
    } catch (e) {
      return downloadError("Cannot reach the bridge; the logs were not downloaded.");
    }
    if (res.status === 401) return signOut(REFUSED);
    if (!res.ok) return downloadError("The bridge answered " + res.status + "; the logs were not downloaded.");
    try {
      save(await res.blob(), fileName(res.headers.get("Content-Disposition")));
    } catch (e) {
      downloadError("The logs could not be read; try again.");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const token = $("token").value.trim();
      if (!token) return showError("Enter the bearer token.");
      sessionStorage.setItem(KEY, token);
      $("token").value = "";
      showError("");
      if (timer) clearTimeout(timer);
      refresh();
    });
    $("sign-out").addEventListener("click", () => signOut(""));
    // The activity shown (no personal data), as a file built in the page: no extra request.
    $("download-activity").addEventListener("click", () => {
      const blob = new Blob([JSON.stringify(lastActivity, null, 2)], { type: "application/json" });
      save(blob, "scim-bridge-activity.json");
    });
    $("download-logs").addEventListener("click", downloadLogs);
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      search.kind = $("search-kind").value;
      search.text = $("search-text").value.trim();
      search.start = 1;
      runSearch();
    });
    $("results-prev").addEventListener("click", () => {
      search.start = Math.max(1, search.start - PAGE);
      runSearch();
    });
    $("results-next").addEventListener("click", () => {
      search.start += PAGE;
      runSearch();
    });
    $("resource-close").addEventListener("click", closeResource);
    $("members-next").addEventListener("click", loadMembers);
    $("members-first").addEventListener("click", () => {
      current.membersAfter = null;
      current.membersSeen = 0;
      loadMembers();
    });
    $("history-more").addEventListener("click", () => loadHistory(false));
    $("guard-release").addEventListener("click", releaseGuard);
    $("workspace-pick").addEventListener("click", pickGroups);
    $("workspace-groups").addEventListener("submit", saveGroups);
    $("workspace-sync").addEventListener("click", syncNow);
    // A link pasted into this tab opens its resource without a reload.
    window.addEventListener("hashchange", () => {
      if (sessionStorage.getItem(KEY) && location.hash) { current.id = null; openLinked(); }
    });
    if (sessionStorage.getItem(KEY)) refresh();
    else signedIn(false);
  });
})();
