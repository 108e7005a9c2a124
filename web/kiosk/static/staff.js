// The staff page: the open fitting-room requests, pushed over GET /staff/ws as
// {"type": "queue", "requests": [...]} after every change, and the Claim / Done /
// Cancel buttons, which POST to /api/staff/fetches/{id}/claim|done|cancel.
//
// Plain ES2020 script, no build step. Needs i18n.js first (window.t, window.i18n).
"use strict";

(function () {
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  const TOKEN_KEY = "staff_token";
  const LANG_KEY = "staff_lang";
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 8000;
  const TOAST_MS = 6000;
  const NEW_ROW_MS = 8000;

  function storageGet(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* private mode */ }
  }

  let token = params.get("token");
  if (token) storageSet(TOKEN_KEY, token);
  else token = storageGet(TOKEN_KEY) || "";

  i18n.setLang(
    i18n.normalise(params.get("lang")) ||
    i18n.normalise(storageGet(LANG_KEY)) ||
    i18n.normalise(body.dataset.lang) || "en");

  const el = {
    status: $("status"),
    banner: $("banner"),
    queueBody: $("queue-body"),
    openCount: $("open-count"),
    langToggle: $("lang-toggle"),
    toast: $("toast"),
  };

  // Read-only snapshot for tests, like the kiosk page's.
  const debug = { connected: false, updates: 0, requests: [], lastError: null, status: "connecting" };
  Object.defineProperty(window, "staffState", {
    enumerable: true,
    get() {
      return Object.freeze({
        connected: debug.connected,
        updates: debug.updates,
        requests: Object.freeze(debug.requests.map((r) => Object.freeze({ ...r }))),
        lastError: debug.lastError,
        status: debug.status,
      });
    },
  });

  // ---------------------------------------------------------------- UI helpers

  const status = i18n.statusLine(el.status, debug);
  const setStatus = status.set;

  let bannerKey = null;
  function setBanner(key) {
    bannerKey = key;
    el.banner.textContent = key ? t(key) : "";
    el.banner.hidden = !key;
  }

  const toast = i18n.toaster(el.toast, TOAST_MS, "error");

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined && text !== null) td.textContent = text;
    return td;
  }

  function formatTime(unix) {
    const date = new Date(Number(unix) * 1000);
    if (Number.isNaN(date.getTime())) return "";
    try {
      return date.toLocaleTimeString(i18n.locale(), { hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      return date.toISOString().slice(11, 16);
    }
  }

  // ---------------------------------------------------------------- the queue

  let requests = [];
  const seen = new Set(); // fetch ids shown before, to mark new ones
  let firstRender = true;
  const busy = new Set(); // fetch ids with an action in flight

  const ACTIONS = {
    queued: ["claim", "cancel"],
    claimed: ["done", "cancel"],
    done: [],
    cancelled: [],
  };

  function row(r) {
    const tr = document.createElement("tr");
    tr.dataset.fetchId = r.fetch_id;
    tr.dataset.state = r.state;
    tr.className = "state-" + r.state;
    if (!firstRender && !seen.has(r.fetch_id)) {
      tr.classList.add("new");
      setTimeout(() => tr.classList.remove("new"), NEW_ROW_MS);
    }

    const time = cell(formatTime(r.created_unix), "time");
    time.title = new Date(Number(r.created_unix) * 1000).toLocaleString(i18n.locale());
    tr.appendChild(time);

    const item = cell(null, "item");
    item.appendChild(Object.assign(document.createElement("span"), { className: "item-title", textContent: r.title }));
    item.appendChild(Object.assign(document.createElement("span"), { className: "sku", textContent: r.sku }));
    tr.appendChild(item);

    tr.appendChild(cell(r.size ? (/^one[ -]?size$/i.test(r.size) ? t("one_size") : r.size) : "—", "size"));
    tr.appendChild(cell(r.fitting_room, "room"));
    tr.appendChild(cell(r.customer_first_name || "—", "customer"));
    tr.appendChild(cell(r.kiosk_id, "kiosk"));
    const state = cell(null, "state");
    state.appendChild(Object.assign(document.createElement("span"), {
      className: "pill pill-" + r.state,
      textContent: t("state_" + r.state),
    }));
    tr.appendChild(state);

    const actions = cell(null, "actions");
    for (const action of ACTIONS[r.state] || []) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "btn " + action + (action === "cancel" ? " btn-quiet" : " btn-primary");
      button.dataset.action = action;
      button.dataset.fetchId = r.fetch_id;
      button.textContent = t("action_" + action);
      button.disabled = busy.has(r.fetch_id);
      actions.appendChild(button);
    }
    tr.appendChild(actions);
    return tr;
  }

  function render() {
    if (requests.length === 0) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell(t("staff_empty"));
      td.colSpan = 8;
      tr.appendChild(td);
      el.queueBody.replaceChildren(tr);
    } else {
      el.queueBody.replaceChildren(...requests.map(row));
    }
    for (const r of requests) seen.add(r.fetch_id);
    firstRender = false;
    const open = requests.filter((r) => r.state === "queued" || r.state === "claimed").length;
    el.openCount.textContent = t("open_count", { n: open });
    const queued = requests.filter((r) => r.state === "queued").length;
    document.title = (queued ? `(${queued}) ` : "") + t("staff_title");
  }

  function setQueue(list) {
    requests = Array.isArray(list) ? list : [];
    debug.requests = requests;
    debug.updates++;
    render();
  }

  async function act(fetchId, action) {
    busy.add(fetchId);
    render();
    try {
      const res = await fetch(`/api/staff/fetches/${encodeURIComponent(fetchId)}/${action}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      });
      let payload = null;
      try { payload = await res.json(); } catch (e) { payload = null; }
      if (!res.ok) {
        const err = payload && payload.error;
        const message = err && err.message ? err.message : `${res.status} ${res.statusText}`;
        debug.lastError = { code: err && err.code ? err.code : String(res.status), message };
        toast(t("action_failed", { message }), "error");
      } else if (payload && payload.fetch_id === fetchId && payload.state) {
        // The answer may carry the updated request; show it before the push arrives.
        requests = requests.map((r) => (r.fetch_id === fetchId ? { ...r, ...payload } : r));
        debug.requests = requests;
      }
    } catch (e) {
      debug.lastError = { code: "network", message: String(e && e.message ? e.message : e) };
      toast(t("action_failed", { message: t("network_error") }), "error");
    } finally {
      busy.delete(fetchId);
      render();
    }
  }

  el.queueBody.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-action]");
    if (!button || button.disabled) return;
    act(button.dataset.fetchId, button.dataset.action);
  });

  // ---------------------------------------------------------------- WebSocket

  let ws = null;
  let backoffMs = BACKOFF_MIN_MS;
  let stopped = false;

  function connect() {
    if (stopped) return;
    setStatus("connecting", "status_connecting");
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    let sock;
    try {
      sock = new WebSocket(`${scheme}://${location.host}/staff/ws?token=${encodeURIComponent(token)}`);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      if (ws !== sock) return;
      debug.connected = true;
      backoffMs = BACKOFF_MIN_MS;
      setStatus("connected", "status_connected");
    };
    sock.onmessage = (ev) => {
      if (ws !== sock || typeof ev.data !== "string") return;
      let msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg && msg.type === "queue") setQueue(msg.requests);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      debug.connected = false;
      if (ev.code === 1008) {
        stopped = true;
        setStatus("denied", "status_staff_denied");
        setBanner("status_staff_denied");
        return;
      }
      scheduleReconnect();
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  function scheduleReconnect() {
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    setStatus("reconnecting", "status_reconnecting", {
      s: delay < 1000 ? (delay / 1000).toFixed(1) : String(Math.round(delay / 1000)),
    });
    setTimeout(connect, delay);
  }

  // ---------------------------------------------------------------- language

  function retranslate() {
    i18n.apply(document);
    status.retranslate();
    if (bannerKey) setBanner(bannerKey);
    render();
  }

  el.langToggle.addEventListener("click", () => {
    const next = i18n.lang === "zh" ? "en" : "zh";
    i18n.setLang(next);
    storageSet(LANG_KEY, next);
    retranslate();
  });

  // ---------------------------------------------------------------- start

  retranslate();
  firstRender = true; // the first queue from the server is not "new"
  if (!token) setBanner("status_no_staff_token");
  connect();
})();
