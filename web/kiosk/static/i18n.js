// UI strings of the kiosk and staff pages, English and Simplified Chinese, and the
// small helper both pages use to look them up.
//
// Plain script (no modules, no build step). Defines:
//   window.I18N            the string tables, {en: {...}, zh: {...}}
//   window.t(key, vars)    the string for key in the current language, with {name}
//                          placeholders filled from vars; falls back to English, then key
//   window.i18n            {lang, setLang(lang), apply(root), supported, locale(lang),
//                          statusLine(element, debug), toaster(element, ms, kind)}
"use strict";

window.I18N = {
  en: {
    page_title: "Shopping assistant",
    staff_title: "Fitting-room requests",

    // Connection
    status_connecting: "Connecting…",
    status_connected: "Connected",
    status_reconnecting: "Reconnecting in {s} s…",
    status_not_set_up: "This device is not set up (kiosk token)",
    status_reloading: "Updating the page…",
    status_reload_loop: "The page is out of date. Please ask a member of staff.",
    status_no_staff_token: "No staff token. Open this page with ?token=…",
    status_staff_denied: "The staff token was not accepted",

    // Top bar
    lang_toggle: "中文",
    lang_toggle_label: "切换到中文",
    forget_me: "Forget me",
    end_session: "I'm done",
    welcome_back: "Welcome back, {name}",
    hello_name: "Hello, {name}",

    // Conversation
    captions_heading: "Conversation",
    speaker_you: "You",
    speaker_assistant: "Assistant",
    listening: "Listening…",
    hint_voice: "Just speak — or type below.",
    hint_robot: "Just speak — or touch a button.",
    text_label: "Type a message",
    text_placeholder: "Type a message…",
    send: "Send",
    quick_heading: "Quick choices",
    quick_shirts: "Show me shirts",
    quick_dresses: "Show me dresses",
    quick_jackets: "Show me jackets",
    quick_goes_with: "What goes with this?",
    quick_yes: "Yes, please",
    quick_no: "No, thank you",
    quick_staff: "I'd like to talk to someone",

    // Product cards
    cards_heading: "Suggestions",
    try_on: "Try on",
    fetch: "Bring to fitting room",
    size_label: "Size",
    size_usual: "My usual size",
    in_stock: "In stock: {sizes}",
    out_of_stock: "Out of stock",
    colours: "Colours: {colours}",
    one_size: "One size",

    // Mirror
    mirror_heading: "Mirror",
    mirror_empty: "Touch “Try on” on a product to see yourself wearing it.",
    mirror_pending: "Preparing your try-on…",
    mirror_alt: "You, wearing {title}",
    camera_label: "Camera preview",

    // Fetch requests
    fetch_heading: "Fitting room",
    fetch_size: "size {size}",
    fetch_room: "Fitting room {room}",
    fetch_state_queued: "Waiting for a member of staff",
    fetch_state_claimed: "On its way",
    fetch_state_done: "Ready in the fitting room",
    fetch_state_cancelled: "Sorry, it cannot be brought",
    fetch_sent: "Asking staff to bring it…",

    // Consent
    consent_title: "Shall we recognise you next time?",
    consent_name_label: "The name to greet you by",
    consent_name_placeholder: "Your first name",
    consent_name_required: "Please enter a name.",
    consent_accept: "Yes, remember me",
    consent_decline: "No, thank you",

    // Forget me
    forget_title: "Forget me?",
    forget_text: "This erases everything stored about you: your face data, your name and your preferences.",
    forget_confirm: "Yes, forget me",
    forget_cancel: "Cancel",

    // Notices
    forgotten_notice: "Everything about you has been erased.",
    enrolled_notice: "Thank you, {name}. You will be recognised next time.",
    consent_declined_notice: "No problem — nothing about you is kept.",
    session_ended_notice: "Thank you for visiting!",

    // Degraded services
    unavailable_voice: "Voice is unavailable — please type",
    unavailable_voice_robot: "Voice is unavailable — please use the buttons",
    unavailable_tryon: "Virtual try-on is unavailable right now",
    unavailable_dialogue: "The assistant is unavailable right now",
    unavailable_catalog: "Product search is unavailable right now",
    unavailable_vision: "Camera recognition is unavailable right now",
    unavailable_other: "{service} is unavailable right now",
    mic_unavailable: "The microphone is not available — please type",
    mic_unavailable_robot: "The microphone is not available — please use the buttons",
    camera_unavailable: "The camera is not available",
    audio_locked: "Touch the screen to turn on sound and the microphone",
    not_connected: "Not connected — please wait a moment",

    // Staff page
    staff_heading: "Fitting-room requests",
    staff_empty: "No open requests.",
    col_time: "Time",
    col_item: "Item",
    col_size: "Size",
    col_room: "Fitting room",
    col_customer: "Customer",
    col_kiosk: "Kiosk",
    col_state: "State",
    col_actions: "Actions",
    state_queued: "Queued",
    state_claimed: "Claimed",
    state_done: "Done",
    state_cancelled: "Cancelled",
    action_claim: "Claim",
    action_done: "Done",
    action_cancel: "Cancel",
    action_failed: "That did not work: {message}",
    open_count: "{n} open",
    network_error: "The server could not be reached",
  },

  zh: {
    page_title: "购物助手",
    staff_title: "试衣间取货请求",

    status_connecting: "正在连接…",
    status_connected: "已连接",
    status_reconnecting: "{s} 秒后重新连接…",
    status_not_set_up: "此设备尚未设置（缺少自助终端令牌）",
    status_reloading: "正在更新页面…",
    status_reload_loop: "页面版本已过期，请联系店员。",
    status_no_staff_token: "缺少店员令牌，请使用 ?token=… 打开此页面",
    status_staff_denied: "店员令牌无效",

    lang_toggle: "EN",
    lang_toggle_label: "Switch to English",
    forget_me: "忘记我",
    end_session: "结束对话",
    welcome_back: "欢迎回来，{name}",
    hello_name: "您好，{name}",

    captions_heading: "对话",
    speaker_you: "您",
    speaker_assistant: "助手",
    listening: "正在聆听…",
    hint_voice: "请直接说话，或在下方输入文字。",
    hint_robot: "请直接说话，或点按下方按钮。",
    text_label: "输入消息",
    text_placeholder: "输入消息…",
    send: "发送",
    quick_heading: "快捷选项",
    quick_shirts: "给我看看衬衫",
    quick_dresses: "给我看看连衣裙",
    quick_jackets: "给我看看夹克",
    quick_goes_with: "什么和这件搭配？",
    quick_yes: "好的，谢谢",
    quick_no: "不用了，谢谢",
    quick_staff: "我想找店员",

    cards_heading: "为您推荐",
    try_on: "试穿",
    fetch: "送到试衣间",
    size_label: "尺码",
    size_usual: "我常穿的尺码",
    in_stock: "有货尺码：{sizes}",
    out_of_stock: "暂时缺货",
    colours: "颜色：{colours}",
    one_size: "均码",

    mirror_heading: "试衣镜",
    mirror_empty: "点按商品上的“试穿”，即可看到您穿上的效果。",
    mirror_pending: "正在准备试穿效果…",
    mirror_alt: "您穿着{title}的效果",
    camera_label: "摄像头画面",

    fetch_heading: "试衣间",
    fetch_size: "{size} 码",
    fetch_room: "{room} 号试衣间",
    fetch_state_queued: "正在等待店员",
    fetch_state_claimed: "店员正在取货",
    fetch_state_done: "已送到试衣间",
    fetch_state_cancelled: "很抱歉，无法送达",
    fetch_sent: "正在请店员取货…",

    consent_title: "下次光临时要认出您吗？",
    consent_name_label: "我们如何称呼您",
    consent_name_placeholder: "您的名字",
    consent_name_required: "请输入名字。",
    consent_accept: "好的，记住我",
    consent_decline: "不用了，谢谢",

    forget_title: "忘记我？",
    forget_text: "这将删除我们保存的关于您的全部信息：面部数据、姓名和偏好。",
    forget_confirm: "确定，忘记我",
    forget_cancel: "取消",

    forgotten_notice: "您的所有信息均已删除。",
    enrolled_notice: "谢谢您，{name}。下次光临时我们会认出您。",
    consent_declined_notice: "没问题，我们不会保存您的任何信息。",
    session_ended_notice: "感谢光临！",

    unavailable_voice: "语音暂不可用，请输入文字",
    unavailable_voice_robot: "语音暂不可用，请使用按钮",
    unavailable_tryon: "虚拟试穿暂不可用",
    unavailable_dialogue: "助手暂不可用",
    unavailable_catalog: "商品搜索暂不可用",
    unavailable_vision: "摄像头识别暂不可用",
    unavailable_other: "{service} 暂不可用",
    mic_unavailable: "无法使用麦克风，请输入文字",
    mic_unavailable_robot: "无法使用麦克风，请使用按钮",
    camera_unavailable: "无法使用摄像头",
    audio_locked: "请轻触屏幕以开启声音和麦克风",
    not_connected: "尚未连接，请稍候",

    staff_heading: "试衣间取货请求",
    staff_empty: "暂无待处理的请求。",
    col_time: "时间",
    col_item: "商品",
    col_size: "尺码",
    col_room: "试衣间",
    col_customer: "顾客",
    col_kiosk: "终端",
    col_state: "状态",
    col_actions: "操作",
    state_queued: "排队中",
    state_claimed: "已认领",
    state_done: "已完成",
    state_cancelled: "已取消",
    action_claim: "认领",
    action_done: "完成",
    action_cancel: "取消",
    action_failed: "操作失败：{message}",
    open_count: "{n} 条待处理",
    network_error: "无法连接服务器",
  },
};

(function () {
  const supported = Object.keys(window.I18N);

  /** "zh-CN", "zh", "ZH" → "zh"; anything unknown → null. */
  function normalise(lang) {
    if (!lang) return null;
    const base = String(lang).trim().toLowerCase().split(/[-_]/)[0];
    return supported.includes(base) ? base : null;
  }

  const state = {
    lang: normalise(document.body && document.body.dataset.lang) || "en",
  };

  /** The string for key in the current language, {placeholders} filled from vars. */
  function t(key, vars) {
    const table = window.I18N[state.lang] || window.I18N.en;
    let s = table[key];
    if (s === undefined) s = window.I18N.en[key];
    if (s === undefined) return key;
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, (m, name) =>
        Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m);
    }
    return s;
  }

  /**
   * Fills every element under root that names a string:
   * data-i18n (text), data-i18n-placeholder, data-i18n-aria-label, data-i18n-title.
   */
  function apply(root) {
    const r = root || document;
    r.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    r.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder));
    });
    r.querySelectorAll("[data-i18n-aria-label]").forEach((el) => {
      el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
    });
    r.querySelectorAll("[data-i18n-title]").forEach((el) => {
      el.setAttribute("title", t(el.dataset.i18nTitle));
    });
  }

  /** Switches the language of t() and of the document; returns the language used. */
  function setLang(lang) {
    state.lang = normalise(lang) || state.lang;
    document.documentElement.lang = locale(state.lang);
    return state.lang;
  }

  /** The BCP 47 tag for a UI language: what hello's `locale` and Intl get. */
  function locale(lang) {
    return (normalise(lang) || state.lang) === "zh" ? "zh-CN" : "en-GB";
  }

  /**
   * The connection status line both pages show, kept by key so a language switch can
   * redraw it: set(state, key, vars) shows it (and mirrors the state into debug.status
   * for the tests); retranslate() redraws it in the current language.
   */
  function statusLine(element, debug) {
    let key = "status_connecting";
    let vars = null;
    return {
      set(state, newKey, newVars) {
        debug.status = state;
        key = newKey;
        vars = newVars || null;
        element.dataset.state = state;
        element.textContent = t(key, vars);
      },
      retranslate() { element.textContent = t(key, vars); },
    };
  }

  /** A toast in element: the returned toast(message, kind) shows it for ms. */
  function toaster(element, ms, defaultKind) {
    let timer = null;
    return function toast(message, kind) {
      element.textContent = message;
      element.dataset.kind = kind || defaultKind;
      element.hidden = false;
      clearTimeout(timer);
      timer = setTimeout(() => { element.hidden = true; }, ms);
    };
  }

  window.t = t;
  window.i18n = {
    statusLine,
    toaster,
    supported,
    normalise,
    t,
    apply,
    setLang,
    locale,
    get lang() { return state.lang; },
  };
})();
