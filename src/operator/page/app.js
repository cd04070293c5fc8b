// The status page: asks /status.json with the operator's bearer token every few seconds,
// and /logs when the operator downloads the logs. The token lives only in this tab's
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
    if (sessionStorage.getItem(KEY)) refresh();
    else signedIn(false);
  });
})();
