// The customer page of the kiosk: microphone, camera and speaker over one WebSocket
// (docs/protocol.md), live captions, product cards, the try-on mirror, fitting-room
// requests, consent and "forget me".
//
// Plain ES2020 script, no build step and nothing loaded from outside the node. Needs
// i18n.js first (window.t, window.i18n). Exposes a read-only debug snapshot as
// window.kioskState for tests.
"use strict";

(function () {
  const body = document.body;
  const $ = (id) => document.getElementById(id);
  const params = new URLSearchParams(location.search);

  // ---------------------------------------------------------------- configuration

  const TOKEN_KEY = "kiosk_token";
  const SESSION_KEY = "kiosk_session_id";
  const LANG_KEY = "kiosk_lang";
  const RELOADS_KEY = "kiosk_reloads";

  const config = {
    robot: body.dataset.robot === "true" || params.get("mode") === "robot",
    protocolVersion: Number(body.dataset.protocolVersion) || 1,
    micRate: Number(body.dataset.micSampleRate) || 16000,
    // Barge-in: RMS (0..1, after the browser's echo cancellation) held this long.
    bargeRms: Number(params.get("barge_rms")) || 0.03,
    bargeMs: 200,
    bargeGapMs: 60, // a dip this short between syllables does not restart the count
    micChunkMs: 40, // small frames: the end of her speech is heard sooner
    maxBinaryFrame: 64 * 1024,
    frameIntervalMs: 500,
    frameMaxWidth: 640,
    jpegQuality: 0.8,
    maxBuffered: 512 * 1024, // skip camera frames / mic chunks while the socket lags
    backoffMinMs: 500,
    backoffMaxMs: 8000,
    maxTextChars: 500,
    maxCaptionLines: 60,
    toastMs: 5000,
    tryonTimeoutMs: 60000,
  };

  function storageGet(store, key) {
    try { return store.getItem(key); } catch (e) { return null; }
  }
  function storageSet(store, key, value) {
    try {
      if (value === null || value === undefined) store.removeItem(key);
      else store.setItem(key, value);
      return true;
    } catch (e) { return false; }
  }

  // Kiosk token: ?token= wins and is remembered; otherwise the remembered one.
  let token = params.get("token");
  if (token) storageSet(localStorage, TOKEN_KEY, token);
  else token = storageGet(localStorage, TOKEN_KEY) || "";

  // Language: ?lang= wins, then the last choice made with the toggle, then the server's.
  const lang = i18n.setLang(
    i18n.normalise(params.get("lang")) ||
    i18n.normalise(storageGet(localStorage, LANG_KEY)) ||
    i18n.normalise(body.dataset.lang) || "en");

  // ---------------------------------------------------------------- debug state

  const debug = {
    connected: false,
    sessionId: null,
    turnsDone: 0,
    audioChunksPlayed: 0,
    audioBytesPlayed: 0,
    audioChunksDropped: 0,
    bargeIns: 0,
    lastError: null,
    unavailable: new Set(),
    messagesReceived: {},
    // Extras, also read-only for tests.
    status: "connecting",
    locale: null,
    lang,
    robot: config.robot,
    customerName: null,
    micState: "starting",
    cameraState: "starting",
    audioState: "none",
    micChunksSent: 0,
    framesSent: 0,
    newestFinalTurn: -1,
    stoppedTurns: new Set(),
    lastTiming: null,
    lastTraceId: null,
    mirrorState: "empty",
    fetchState: null,
  };

  Object.defineProperty(window, "kioskState", {
    configurable: false,
    enumerable: true,
    get() {
      return Object.freeze({
        connected: debug.connected,
        sessionId: debug.sessionId,
        turnsDone: debug.turnsDone,
        audioChunksPlayed: debug.audioChunksPlayed,
        audioBytesPlayed: debug.audioBytesPlayed,
        audioChunksDropped: debug.audioChunksDropped,
        bargeIns: debug.bargeIns,
        lastError: debug.lastError ? Object.freeze({ ...debug.lastError }) : null,
        unavailable: Object.freeze([...debug.unavailable].sort()),
        messagesReceived: Object.freeze({ ...debug.messagesReceived }),
        status: debug.status,
        locale: debug.locale,
        lang: i18n.lang,
        robot: debug.robot,
        customerName: debug.customerName,
        micState: debug.micState,
        cameraState: debug.cameraState,
        audioState: audio.ctx ? audio.ctx.state : "none",
        playing: isPlaying(),
        micChunksSent: debug.micChunksSent,
        framesSent: debug.framesSent,
        newestFinalTurn: debug.newestFinalTurn,
        stoppedTurns: Object.freeze([...debug.stoppedTurns].sort((a, b) => a - b)),
        lastTiming: debug.lastTiming,
        lastTraceId: debug.lastTraceId,
        mirrorState: debug.mirrorState,
        fetchState: debug.fetchState,
      });
    },
  });

  // ---------------------------------------------------------------- page elements

  const el = {
    status: $("status"),
    welcome: $("welcome"),
    welcomeBefore: $("welcome-before"),
    customerName: $("customer-name"),
    welcomeAfter: $("welcome-after"),
    langToggle: $("lang-toggle"),
    endSession: $("end-session"),
    forgetMe: $("forget-me"),
    banner: $("banner"),
    captions: $("captions"),
    partial: $("caption-partial"),
    listening: $("listening"),
    hint: $("hint"),
    textForm: $("text-form"),
    textInput: $("text-input"),
    quick: $("quick-replies"),
    cardsHeading: $("cards-heading"),
    cards: $("cards"),
    mirror: $("mirror"),
    mirrorImage: $("mirror-image"),
    mirrorSpinner: $("mirror-spinner"),
    mirrorEmpty: $("mirror-empty"),
    mirrorCaption: $("mirror-caption"),
    fetchStatus: $("fetch-status"),
    fetchItem: $("fetch-item"),
    fetchRoom: $("fetch-room"),
    fetchState: $("fetch-state"),
    camera: $("camera-preview"),
    consentModal: $("consent-modal"),
    consentForm: $("consent-form"),
    consentPurpose: $("consent-purpose"),
    consentName: $("consent-name"),
    consentError: $("consent-error"),
    consentAccept: $("consent-accept"),
    consentDecline: $("consent-decline"),
    forgetModal: $("forget-modal"),
    forgetConfirm: $("forget-confirm"),
    forgetCancel: $("forget-cancel"),
    toast: $("toast"),
  };

  // Robot mode may come from the URL even when the server did not render it.
  if (config.robot) {
    body.classList.add("robot");
    el.textForm.hidden = true;
    el.quick.hidden = false;
    el.hint.dataset.i18n = "hint_robot";
  }

  // ---------------------------------------------------------------- UI helpers

  const status = i18n.statusLine(el.status, debug);
  const setStatus = status.set;

  const toast = i18n.toaster(el.toast, config.toastMs, "notice");

  // Banner: what does not work right now, one line each.
  const local = { fatal: null, micDown: false, cameraDown: false, audioLocked: false };

  function renderBanner() {
    const lines = [];
    if (local.fatal) lines.push(t(local.fatal));
    const order = ["voice", "dialogue", "catalog", "tryon", "vision"];
    const services = [...debug.unavailable].sort((a, b) => {
      const ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    for (const s of services) {
      if (s === "voice") lines.push(t(config.robot ? "unavailable_voice_robot" : "unavailable_voice"));
      else if (order.includes(s)) lines.push(t("unavailable_" + s));
      else lines.push(t("unavailable_other", { service: s }));
    }
    if (local.micDown && !debug.unavailable.has("voice")) {
      lines.push(t(config.robot ? "mic_unavailable_robot" : "mic_unavailable"));
    }
    if (local.cameraDown) lines.push(t("camera_unavailable"));
    if (local.audioLocked) lines.push(t("audio_locked"));
    el.banner.replaceChildren(...lines.map((line) => {
      const p = document.createElement("p");
      p.textContent = line;
      return p;
    }));
    el.banner.dataset.services = [...debug.unavailable].sort().join(" ");
    el.banner.hidden = lines.length === 0;
  }

  /** Degrades and recovers the page with the services that are down. */
  function applyServices() {
    const voiceDown = debug.unavailable.has("voice");
    const tryonDown = debug.unavailable.has("tryon");
    body.classList.toggle("no-voice", voiceDown);
    body.classList.toggle("no-tryon", tryonDown);
    el.mirror.hidden = tryonDown;
    el.cards.querySelectorAll(".try-on").forEach((b) => { b.hidden = tryonDown; });
    if (tryonDown && debug.mirrorState === "pending") setMirror("empty");
    renderBanner();
  }

  let welcomeKey = null;
  function showWelcome(key, name) {
    welcomeKey = key;
    debug.customerName = name;
    const [before, after] = t(key, { name: "\u0000" }).split("\u0000");
    el.welcomeBefore.textContent = before || "";
    el.customerName.textContent = name;
    el.welcomeAfter.textContent = after || "";
    el.welcome.hidden = false;
  }
  function hideWelcome() {
    welcomeKey = null;
    debug.customerName = null;
    el.customerName.textContent = "";
    el.welcome.hidden = true;
  }

  // ---------------------------------------------------------------- captions

  let assistantTurn = null;
  let lastDeltaEnded = false;
  let listeningTimer = null;

  /**
   * The line with this id, moved to the end of the log. A line that already holds text
   * stays where it is as history, and a new line takes over the id.
   */
  function freshLine(id, speaker) {
    let line = $(id);
    if (line && line.textContent !== "") {
      line.removeAttribute("id");
      line = null;
    }
    if (!line) {
      line = document.createElement("p");
      line.id = id;
    }
    line.className = "line " + speaker;
    line.dataset.speaker = t(speaker === "user" ? "speaker_you" : "speaker_assistant");
    el.captions.appendChild(line);
    line.hidden = false;
    trimCaptions();
    return line;
  }

  function trimCaptions() {
    let extra = el.captions.children.length - config.maxCaptionLines;
    for (const child of [...el.captions.children]) {
      if (extra <= 0) break;
      if (!child.id) { child.remove(); extra--; }
    }
  }

  function scrollCaptions() {
    el.captions.scrollTop = el.captions.scrollHeight;
  }

  function resetCaptions() {
    const assistant = document.createElement("p");
    assistant.id = "caption-assistant";
    assistant.className = "line assistant";
    assistant.hidden = true;
    const user = document.createElement("p");
    user.id = "caption-user";
    user.className = "line user";
    user.hidden = true;
    el.captions.replaceChildren(assistant, user);
    assistantTurn = null;
    lastDeltaEnded = false;
    hidePartial();
  }

  function hidePartial() {
    el.partial.textContent = "";
    el.partial.hidden = true;
    el.listening.hidden = true;
    clearTimeout(listeningTimer);
  }

  /** Text of a reply so far plus a delta: sentences apart by a space, unless CJK. */
  function joinText(prev, add, prevEnded) {
    if (!prev) return add;
    if (!prevEnded || !add) return prev + add;
    if (/\s$/.test(prev) || /^\s/.test(add)) return prev + add;
    const cjk = /[\u2E80-\u9FFF\uF900-\uFAFF\uFF00-\uFFEF\u3000-\u303F]/;
    if (cjk.test(prev.slice(-1)) || cjk.test(add.charAt(0))) return prev + add;
    return prev + " " + add;
  }

  function appendAssistant(turn, text, sentenceEnd) {
    let line = $("caption-assistant");
    if (assistantTurn !== turn || !line || line.hidden) {
      line = freshLine("caption-assistant", "assistant");
      line.textContent = "";
      line.dataset.turn = String(turn);
      assistantTurn = turn;
      lastDeltaEnded = false;
    }
    line.textContent = joinText(line.textContent, text, lastDeltaEnded);
    lastDeltaEnded = !!sentenceEnd;
    scrollCaptions();
  }

  function setUserCaption(text, turn) {
    hidePartial();
    const line = freshLine("caption-user", "user");
    line.textContent = text;
    line.dataset.turn = String(turn);
    scrollCaptions();
  }

  // ---------------------------------------------------------------- playback

  const audio = { ctx: null, playhead: 0, sources: new Set() };

  function ensureAudioContext() {
    if (audio.ctx) return audio.ctx;
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    try {
      audio.ctx = new Ctx({ latencyHint: "interactive" });
    } catch (e) {
      return null;
    }
    audio.ctx.addEventListener("statechange", () => {
      debug.audioState = audio.ctx.state;
      local.audioLocked = audio.ctx.state === "suspended";
      renderBanner();
    });
    return audio.ctx;
  }

  function resumeAudio() {
    const ctx = ensureAudioContext();
    if (ctx && ctx.state === "suspended") {
      return ctx.resume().catch(() => {});
    }
    return Promise.resolve();
  }

  function isPlaying() {
    const ctx = audio.ctx;
    return !!ctx && ctx.state === "running" && audio.sources.size > 0 &&
      audio.playhead > ctx.currentTime;
  }

  /** Whether audio of this turn must not be played. */
  function turnDropped(turn) {
    return debug.stoppedTurns.has(turn) || turn < debug.newestFinalTurn;
  }

  function playChunk(meta, buffer) {
    const turn = Number(meta.turn_id);
    const rate = Number(meta.sample_rate);
    const samples = Math.floor(buffer.byteLength / 2);
    const ctx = ensureAudioContext();
    if (turnDropped(turn) || !ctx || samples === 0 || !(rate >= 3000 && rate <= 384000)) {
      debug.audioChunksDropped++;
      return;
    }
    let pcm;
    try {
      pcm = ctx.createBuffer(1, samples, rate);
    } catch (e) {
      debug.audioChunksDropped++;
      return;
    }
    const channel = pcm.getChannelData(0);
    const view = new DataView(buffer);
    for (let i = 0; i < samples; i++) channel[i] = view.getInt16(i * 2, true) / 32768;

    const node = ctx.createBufferSource();
    node.buffer = pcm;
    node.connect(ctx.destination);
    const now = ctx.currentTime;
    // Gapless: each chunk starts where the previous one ends. After a gap (or at the
    // start of a reply) start a little ahead so the next chunk has time to arrive.
    if (audio.playhead < now + 0.005) audio.playhead = now + 0.08;
    const entry = { node, turn, start: audio.playhead, end: audio.playhead + pcm.duration };
    node.onended = () => { audio.sources.delete(entry); };
    node.start(entry.start);
    audio.sources.add(entry);
    audio.playhead = entry.end;
    debug.audioChunksPlayed++;
    debug.audioBytesPlayed += buffer.byteLength;
    if (ctx.state === "suspended") resumeAudio();
  }

  /** Stops every scheduled source that matches, at once. */
  function stopAudio(match) {
    for (const entry of [...audio.sources]) {
      if (!match(entry)) continue;
      entry.node.onended = null;
      try { entry.node.stop(); } catch (e) { /* not started yet in some browsers */ }
      try { entry.node.disconnect(); } catch (e) { /* already */ }
      audio.sources.delete(entry);
    }
    let end = 0;
    for (const entry of audio.sources) end = Math.max(end, entry.end);
    audio.playhead = end;
  }

  /** The page heard her speak over the assistant: stop now and tell the server. */
  function bargeIn() {
    for (const entry of audio.sources) debug.stoppedTurns.add(entry.turn);
    stopAudio(() => true);
    debug.bargeIns++;
    sendJson({ type: "barge_in" });
  }

  let loudMs = 0;
  let quietMs = 0;
  function onMicLevel(rms, ms) {
    if (!isPlaying()) {
      loudMs = 0;
      quietMs = 0;
      return;
    }
    if (rms >= config.bargeRms) {
      loudMs += ms;
      quietMs = 0;
      if (loudMs >= config.bargeMs) {
        loudMs = 0;
        bargeIn();
      }
    } else {
      quietMs += ms;
      if (quietMs > config.bargeGapMs) loudMs = 0;
    }
  }

  // ---------------------------------------------------------------- microphone

  async function startMic() {
    const ctx = ensureAudioContext();
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !ctx || !ctx.audioWorklet) {
      micDown("unsupported");
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: {
          echoCancellation: true,
          noiseSuppression: true,
          autoGainControl: true,
          channelCount: 1,
        },
      });
      await ctx.audioWorklet.addModule("/static/mic-worklet.js");
      const source = ctx.createMediaStreamSource(stream);
      const node = new AudioWorkletNode(ctx, "mic-capture", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        channelCount: 1,
        channelCountMode: "explicit",
        channelInterpretation: "speakers",
        processorOptions: { targetRate: config.micRate, chunkMs: config.micChunkMs, levelMs: 20 },
      });
      node.port.onmessage = (ev) => {
        const m = ev.data;
        if (m.type === "pcm") sendMic(m.buffer);
        else if (m.type === "level") onMicLevel(m.rms, m.ms);
      };
      // A silent sink keeps the node pulled by the graph in every browser.
      const sink = ctx.createGain();
      sink.gain.value = 0;
      source.connect(node);
      node.connect(sink);
      sink.connect(ctx.destination);
      for (const track of stream.getAudioTracks()) {
        track.addEventListener("ended", () => micDown("ended"));
      }
      debug.micState = "on";
      local.micDown = false;
      renderBanner();
    } catch (e) {
      micDown(e && e.name ? e.name : "error");
    }
  }

  function micDown(why) {
    debug.micState = "off:" + why;
    local.micDown = true;
    renderBanner();
  }

  function sendMic(buffer) {
    if (!ready || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (debug.unavailable.has("voice")) return;
    if (ws.bufferedAmount > config.maxBuffered) return;
    for (let off = 0; off < buffer.byteLength; off += config.maxBinaryFrame) {
      ws.send(buffer.slice(off, Math.min(buffer.byteLength, off + config.maxBinaryFrame)));
    }
    debug.micChunksSent++;
  }

  // ---------------------------------------------------------------- camera

  const canvas = document.createElement("canvas");
  let frameBusy = false;

  async function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraDown("unsupported");
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      });
      el.camera.srcObject = stream;
      el.camera.hidden = false;
      await el.camera.play().catch(() => {});
      for (const track of stream.getVideoTracks()) {
        track.addEventListener("ended", () => cameraDown("ended"));
      }
      debug.cameraState = "on";
      setInterval(sendFrame, config.frameIntervalMs);
    } catch (e) {
      cameraDown(e && e.name ? e.name : "error");
    }
  }

  function cameraDown(why) {
    debug.cameraState = "off:" + why;
    el.camera.hidden = true;
    local.cameraDown = true;
    renderBanner();
  }

  function sendFrame() {
    if (frameBusy || !ready || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (ws.bufferedAmount > config.maxBuffered) return;
    const video = el.camera;
    if (video.readyState < 2 || !video.videoWidth || !video.videoHeight) return;
    const width = Math.min(config.frameMaxWidth, video.videoWidth);
    const height = Math.round((video.videoHeight * width) / video.videoWidth);
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    frameBusy = true;
    canvas.toBlob((blob) => {
      if (!blob) { frameBusy = false; return; }
      const reader = new FileReader();
      reader.onload = () => {
        frameBusy = false;
        const url = String(reader.result);
        const b64 = url.slice(url.indexOf(",") + 1);
        if (b64 && sendJson({ type: "frame", jpeg_base64: b64 })) debug.framesSent++;
      };
      reader.onerror = () => { frameBusy = false; };
      reader.readAsDataURL(blob);
    }, "image/jpeg", config.jpegQuality);
  }

  // ---------------------------------------------------------------- product cards

  let lastCards = [];

  function formatPrice(cents, currency) {
    const amount = Number(cents) / 100;
    try {
      return new Intl.NumberFormat(i18n.locale(), { style: "currency", currency }).format(amount);
    } catch (e) {
      return `${amount.toFixed(2)} ${currency || ""}`.trim();
    }
  }

  function sizeLabel(size) {
    return /^one[ -]?size$/i.test(size) ? t("one_size") : size;
  }

  /** Only same-origin paths (and inline data) load: the node is offline. */
  function safeImageUrl(url) {
    if (typeof url !== "string") return null;
    if (url.startsWith("/") && !url.startsWith("//")) return url;
    if (url.startsWith("data:image/")) return url;
    try {
      const u = new URL(url, location.href);
      return u.origin === location.origin ? u.href : null;
    } catch (e) {
      return null;
    }
  }

  function make(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function cardElement(card) {
    const sizes = Array.isArray(card.sizes_in_stock) ? card.sizes_in_stock : [];
    const colours = Array.isArray(card.colours) ? card.colours : [];
    const root = make("article", "card");
    root.dataset.sku = card.sku;
    if (card.position) root.dataset.position = String(card.position);
    const titleId = "card-title-" + String(card.sku).replace(/[^A-Za-z0-9_-]/g, "_");
    root.setAttribute("aria-labelledby", titleId);

    const src = safeImageUrl(card.image_url);
    const figure = make("div", "card-image");
    if (src) {
      const img = document.createElement("img");
      img.src = src;
      img.alt = "";
      img.loading = "lazy";
      img.decoding = "async";
      img.addEventListener("error", () => { figure.classList.add("no-image"); img.remove(); });
      figure.appendChild(img);
    } else {
      figure.classList.add("no-image");
    }
    if (card.position) figure.appendChild(make("span", "card-position", String(card.position)));
    root.appendChild(figure);

    const info = make("div", "card-body");
    const title = make("h3", "card-title", card.title);
    title.id = titleId;
    info.appendChild(title);
    info.appendChild(make("p", "card-price", formatPrice(card.price_cents, card.currency)));
    if (colours.length) info.appendChild(make("p", "card-colours", t("colours", { colours: colours.join(", ") })));
    info.appendChild(make("p", "card-sizes" + (sizes.length ? "" : " out"),
      sizes.length ? t("in_stock", { sizes: sizes.map(sizeLabel).join(", ") }) : t("out_of_stock")));
    if (card.why) info.appendChild(make("p", "card-why", card.why));

    const actions = make("div", "card-actions");
    const tryOn = make("button", "btn btn-primary try-on", t("try_on"));
    tryOn.type = "button";
    tryOn.dataset.sku = card.sku;
    tryOn.hidden = debug.unavailable.has("tryon");
    tryOn.addEventListener("click", () => {
      if (sendJson({ type: "try_on", sku: card.sku })) {
        el.mirror.scrollIntoView({ behavior: "smooth", block: "nearest" });
      }
    });
    actions.appendChild(tryOn);

    const fetchRow = make("div", "fetch-row");
    let select = null;
    if (sizes.length) {
      const selectId = "size-" + titleId;
      const label = make("label", "visually-hidden", t("size_label"));
      label.htmlFor = selectId;
      select = make("select", "fetch-size");
      select.id = selectId;
      if (sizes.length > 1) {
        const usual = make("option", null, t("size_usual"));
        usual.value = "";
        select.appendChild(usual);
      }
      for (const size of sizes) {
        const option = make("option", null, sizeLabel(size));
        option.value = size;
        select.appendChild(option);
      }
      fetchRow.appendChild(label);
      fetchRow.appendChild(select);
    }
    const fetchButton = make("button", "btn fetch", t("fetch"));
    fetchButton.type = "button";
    fetchButton.dataset.sku = card.sku;
    fetchButton.disabled = sizes.length === 0;
    fetchButton.addEventListener("click", () => {
      const msg = { type: "fetch", sku: card.sku };
      if (select && select.value) msg.size = select.value;
      if (sendJson(msg)) toast(t("fetch_sent"), "notice");
    });
    fetchRow.appendChild(fetchButton);
    actions.appendChild(fetchRow);
    info.appendChild(actions);
    root.appendChild(info);
    return root;
  }

  function renderCards(cards) {
    lastCards = Array.isArray(cards) ? cards : [];
    // Keep the sizes she chose when the same cards are drawn again (language switch).
    const chosen = {};
    el.cards.querySelectorAll(".card").forEach((c) => {
      const s = c.querySelector(".fetch-size");
      if (s) chosen[c.dataset.sku] = s.value;
    });
    el.cards.replaceChildren(...lastCards.map(cardElement));
    el.cards.querySelectorAll(".card").forEach((c) => {
      const s = c.querySelector(".fetch-size");
      if (s && chosen[c.dataset.sku] !== undefined) s.value = chosen[c.dataset.sku];
    });
    el.cardsHeading.hidden = lastCards.length === 0;
  }

  function cardTitle(sku) {
    const card = lastCards.find((c) => c.sku === sku);
    return card ? card.title : sku;
  }

  // ---------------------------------------------------------------- mirror

  let mirrorSku = null;
  let mirrorTimer = null;

  function setMirror(state, sku, pngBase64) {
    debug.mirrorState = state;
    el.mirror.dataset.state = state;
    clearTimeout(mirrorTimer);
    if (state === "empty") {
      mirrorSku = null;
      el.mirrorImage.hidden = true;
      el.mirrorImage.removeAttribute("src");
      el.mirrorSpinner.hidden = true;
      el.mirrorEmpty.hidden = false;
      el.mirrorCaption.textContent = "";
      delete el.mirror.dataset.sku;
      return;
    }
    mirrorSku = sku;
    el.mirror.dataset.sku = sku;
    el.mirrorEmpty.hidden = true;
    el.mirrorCaption.textContent = cardTitle(sku);
    if (state === "pending") {
      el.mirrorSpinner.hidden = false;
      // Never spin forever if the answer is lost.
      mirrorTimer = setTimeout(() => {
        if (debug.mirrorState === "pending") setMirror(el.mirrorImage.hidden ? "empty" : "ready", sku);
      }, config.tryonTimeoutMs);
    } else {
      el.mirrorSpinner.hidden = true;
      if (pngBase64) el.mirrorImage.src = "data:image/png;base64," + pngBase64;
      el.mirrorImage.alt = t("mirror_alt", { title: cardTitle(sku) });
      el.mirrorImage.hidden = !el.mirrorImage.getAttribute("src");
      if (el.mirrorImage.hidden) setMirror("empty");
    }
  }

  // ---------------------------------------------------------------- fetch status

  let lastFetch = null;

  function renderFetch(request) {
    const before = lastFetch;
    lastFetch = request || null;
    if (!lastFetch) {
      debug.fetchState = null;
      el.fetchStatus.hidden = true;
      el.fetchStatus.dataset.state = "";
      delete el.fetchStatus.dataset.fetchId;
      return;
    }
    const r = lastFetch;
    debug.fetchState = r.state;
    el.fetchStatus.dataset.state = r.state;
    el.fetchStatus.dataset.fetchId = r.fetch_id;
    const size = !r.size ? null
      : /^one[ -]?size$/i.test(r.size) ? t("one_size") : t("fetch_size", { size: r.size });
    el.fetchItem.textContent = size ? `${r.title} · ${size}` : r.title;
    el.fetchRoom.textContent = t("fetch_room", { room: r.fitting_room });
    el.fetchState.textContent = t("fetch_state_" + r.state);
    el.fetchStatus.hidden = false;
    // A customer who asked by voice may be looking anywhere on the page: bring news of
    // her request into view when it changes (not when it is only drawn again).
    if (!before || before.fetch_id !== r.fetch_id || before.state !== r.state) {
      el.fetchStatus.scrollIntoView({ behavior: "smooth", block: "nearest" });
    }
  }

  // ---------------------------------------------------------------- modals

  let lastFocus = null;

  function openModal(modal, focusTarget) {
    lastFocus = document.activeElement;
    modal.hidden = false;
    body.classList.add("modal-open");
    (focusTarget || modal.querySelector("button, input")).focus({ preventScroll: true });
  }

  function closeModal(modal) {
    if (modal.hidden) return;
    modal.hidden = true;
    if (el.consentModal.hidden && el.forgetModal.hidden) body.classList.remove("modal-open");
    if (lastFocus && document.contains(lastFocus)) lastFocus.focus({ preventScroll: true });
  }

  function openConsent(purpose) {
    el.consentPurpose.textContent = purpose;
    el.consentError.hidden = true;
    el.consentName.value = "";
    openModal(el.consentModal, el.consentName);
  }

  el.consentForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const name = el.consentName.value.trim();
    if (!name) {
      el.consentError.hidden = false;
      el.consentName.focus();
      return;
    }
    if (sendJson({ type: "consent_accept", name })) closeModal(el.consentModal);
  });
  el.consentName.addEventListener("input", () => { el.consentError.hidden = true; });
  el.consentDecline.addEventListener("click", () => {
    if (sendJson({ type: "consent_decline" })) {
      closeModal(el.consentModal);
      toast(t("consent_declined_notice"), "notice");
    }
  });

  el.forgetMe.addEventListener("click", () => openModal(el.forgetModal, el.forgetCancel));
  el.forgetCancel.addEventListener("click", () => closeModal(el.forgetModal));
  el.forgetConfirm.addEventListener("click", () => {
    if (sendJson({ type: "forget_me" })) closeModal(el.forgetModal);
  });

  document.addEventListener("keydown", (ev) => {
    if (ev.key !== "Escape") return;
    if (!el.forgetModal.hidden) closeModal(el.forgetModal);
  });

  // ---------------------------------------------------------------- typed text

  el.textForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = el.textInput.value.trim().slice(0, config.maxTextChars);
    if (!text) return;
    if (sendJson({ type: "text", text })) el.textInput.value = "";
  });

  el.quick.addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-say]");
    if (button) sendJson({ type: "text", text: t(button.dataset.say) });
  });

  // ---------------------------------------------------------------- session reset

  function clearSession() {
    stopAudio(() => true);
    debug.stoppedTurns.clear();
    debug.newestFinalTurn = -1;
    resetCaptions();
    renderCards([]);
    setMirror("empty");
    renderFetch(null);
    hideWelcome();
    closeModal(el.consentModal);
    closeModal(el.forgetModal);
  }

  // ---------------------------------------------------------------- WebSocket

  let ws = null;
  let ready = false; // session_started received on the current socket
  let stopped = false; // no more reconnecting (device not set up)
  let backoffMs = config.backoffMinMs;
  let reconnectTimer = null;
  let reconnectNow = false;
  let pendingAudio = null; // the audio_chunk whose binary frame comes next

  function sendJson(msg) {
    if (!ws || ws.readyState !== WebSocket.OPEN || (!ready && msg.type !== "hello")) {
      if (msg.type !== "frame" && msg.type !== "barge_in") toast(t("not_connected"), "error");
      return false;
    }
    ws.send(JSON.stringify({ v: config.protocolVersion, ...msg }));
    return true;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped) return;
    setStatus("connecting", "status_connecting");
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    let sock;
    try {
      sock = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    sock.binaryType = "arraybuffer";
    ws = sock;
    sock.onopen = () => {
      if (ws !== sock) return;
      debug.connected = true;
      const hello = { type: "hello", kiosk_token: token, locale: i18n.locale() };
      const sessionId = storageGet(sessionStorage, SESSION_KEY);
      if (sessionId) hello.session_id = sessionId;
      sendJson(hello);
    };
    sock.onmessage = (ev) => {
      if (ws !== sock) return;
      if (typeof ev.data === "string") onText(ev.data);
      else onBinary(ev.data);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      ready = false;
      pendingAudio = null;
      debug.connected = false;
      onClose(ev.code);
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  function onClose(code) {
    if (code === 1008) {
      // Wrong or missing kiosk token: retrying cannot help.
      stopped = true;
      local.fatal = "status_not_set_up";
      setStatus("not_set_up", "status_not_set_up");
      renderBanner();
      return;
    }
    if (code === 1002) {
      reloadPage();
      return;
    }
    if (reconnectNow) {
      reconnectNow = false;
      connect();
      return;
    }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (stopped) return;
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, config.backoffMaxMs);
    setStatus("reconnecting", "status_reconnecting", { s: delay < 1000 ? (delay / 1000).toFixed(1) : String(Math.round(delay / 1000)) });
    reconnectTimer = setTimeout(connect, delay);
  }

  /** Closes the socket on purpose and connects again at once (new hello). */
  function reconnect() {
    if (stopped) return;
    if (ws) {
      reconnectNow = true;
      ws.close(1000);
    } else {
      connect();
    }
  }

  /** The page is older than the server: reload, but not in a tight loop. */
  function reloadPage() {
    stopped = true;
    const now = Date.now();
    let recent = [];
    try { recent = JSON.parse(storageGet(sessionStorage, RELOADS_KEY) || "[]"); } catch (e) { recent = []; }
    recent = (Array.isArray(recent) ? recent : []).filter((x) => now - x < 60000);
    if (recent.length >= 3) {
      setStatus("reloading", "status_reload_loop");
      setTimeout(() => location.reload(), 30000);
      return;
    }
    recent.push(now);
    storageSet(sessionStorage, RELOADS_KEY, JSON.stringify(recent));
    setStatus("reloading", "status_reloading");
    setTimeout(() => location.reload(), 300);
  }

  function onBinary(data) {
    const meta = pendingAudio;
    pendingAudio = null;
    if (!meta || !(data instanceof ArrayBuffer)) return; // not announced: ignore
    playChunk(meta, data);
  }

  function onText(data) {
    let env;
    try { env = JSON.parse(data); } catch (e) { return; }
    if (!env || typeof env !== "object" || typeof env.type !== "string") return;
    debug.messagesReceived[env.type] = (debug.messagesReceived[env.type] || 0) + 1;
    if (env.v !== undefined && env.v !== config.protocolVersion) {
      reloadPage();
      if (ws) ws.close(1000);
      return;
    }
    // A text frame that is not the announced binary one cancels the announcement.
    if (env.type !== "audio_chunk") pendingAudio = null;
    const handler = handlers[env.type];
    if (handler) {
      try {
        handler(env);
      } catch (e) {
        console.error("kiosk: handling", env.type, e);
      }
    }
  }

  const handlers = {
    session_started(m) {
      ready = true;
      backoffMs = config.backoffMinMs;
      debug.sessionId = m.session_id;
      debug.locale = m.locale || null;
      storageSet(sessionStorage, SESSION_KEY, m.session_id);
      storageSet(sessionStorage, RELOADS_KEY, null);
      setStatus("connected", "status_connected");
      // The server tells every service that is down right after this, so forget
      // what an earlier connection said (a service may have recovered meanwhile).
      debug.unavailable.clear();
      applyServices();
      if (!m.resumed) clearSession();
    },
    customer_recognised(m) {
      showWelcome("welcome_back", m.display_name);
    },
    speech_started() {
      el.listening.hidden = false;
      clearTimeout(listeningTimer);
      listeningTimer = setTimeout(() => { el.listening.hidden = true; }, 15000);
    },
    transcript_partial(m) {
      el.partial.dataset.speaker = t("speaker_you");
      el.partial.textContent = m.text;
      el.partial.hidden = !m.text;
    },
    transcript_final(m) {
      const turn = Number(m.turn_id);
      debug.newestFinalTurn = Math.max(debug.newestFinalTurn, turn);
      // A new turn: whatever the assistant was still saying belongs to the past.
      stopAudio((entry) => entry.turn < turn);
      setUserCaption(m.text, turn);
    },
    assistant_delta(m) {
      const turn = Number(m.turn_id);
      if (turn < debug.newestFinalTurn) return;
      appendAssistant(turn, m.text, m.sentence_end);
    },
    audio_chunk(m) {
      pendingAudio = m;
    },
    stop_audio(m) {
      const turn = Number(m.turn_id);
      debug.stoppedTurns.add(turn);
      stopAudio((entry) => entry.turn <= turn);
    },
    turn_done(m) {
      debug.turnsDone++;
      debug.lastTiming = m.timing || null;
      debug.lastTraceId = m.trace_id || null;
      if (m.cancelled) {
        const line = el.captions.querySelector(`.line.assistant[data-turn="${Number(m.turn_id)}"]`);
        if (line) line.classList.add("cancelled");
      }
    },
    product_cards(m) {
      renderCards(m.cards);
    },
    tryon_pending(m) {
      setMirror("pending", m.sku);
    },
    tryon_image(m) {
      setMirror("ready", m.sku, m.png_base64);
    },
    fetch_status(m) {
      renderFetch(m.request);
    },
    consent_request(m) {
      openConsent(m.purpose);
    },
    enrolled(m) {
      showWelcome("hello_name", m.display_name);
      toast(t("enrolled_notice", { name: m.display_name }), "notice");
    },
    forgotten() {
      hideWelcome();
      toast(t("forgotten_notice"), "notice");
    },
    error(m) {
      debug.lastError = { code: m.code, message: m.message };
      toast(m.message || m.code, "error");
      if (debug.mirrorState === "pending" && /tryon|no_face/.test(String(m.code))) {
        setMirror(el.mirrorImage.hidden ? "empty" : "ready", mirrorSku);
      }
    },
    service_status(m) {
      if (m.available) debug.unavailable.delete(m.service);
      else debug.unavailable.add(m.service);
      applyServices();
    },
  };

  // ---------------------------------------------------------------- top bar actions

  el.langToggle.addEventListener("click", () => {
    const next = i18n.lang === "zh" ? "en" : "zh";
    i18n.setLang(next);
    storageSet(localStorage, LANG_KEY, next);
    if (params.has("lang")) {
      params.set("lang", next);
      history.replaceState(null, "", `${location.pathname}?${params}${location.hash}`);
    }
    retranslate();
    // The session's language is chosen at hello: say hello again, resuming.
    reconnect();
  });

  el.endSession.addEventListener("click", () => {
    if (!sendJson({ type: "end_session" })) return;
    storageSet(sessionStorage, SESSION_KEY, null);
    debug.sessionId = null;
    clearSession();
    toast(t("session_ended_notice"), "notice");
    reconnect();
  });

  /** Redraws every string after a language switch. */
  function retranslate() {
    i18n.apply(document);
    document.title = t("page_title");
    status.retranslate();
    if (welcomeKey) showWelcome(welcomeKey, debug.customerName);
    el.captions.querySelectorAll(".line").forEach((line) => {
      line.dataset.speaker = t(line.classList.contains("user") ? "speaker_you" : "speaker_assistant");
    });
    el.partial.dataset.speaker = t("speaker_you");
    renderCards(lastCards);
    if (lastFetch) renderFetch(lastFetch);
    if (debug.mirrorState === "ready") el.mirrorImage.alt = t("mirror_alt", { title: cardTitle(mirrorSku) });
    renderBanner();
  }

  // ---------------------------------------------------------------- start

  // Browsers start audio only after a gesture unless told otherwise; any touch resumes.
  for (const type of ["pointerdown", "keydown", "touchstart"]) {
    document.addEventListener(type, () => { resumeAudio(); }, { capture: true, passive: true });
  }

  retranslate();
  resetCaptions();
  ensureAudioContext();
  resumeAudio();
  // resume() without a gesture may neither resolve nor fail; look again shortly.
  setTimeout(() => {
    if (audio.ctx && audio.ctx.state === "suspended") {
      local.audioLocked = true;
      renderBanner();
    }
  }, 1500);
  startMic();
  startCamera();
  connect();
})();
