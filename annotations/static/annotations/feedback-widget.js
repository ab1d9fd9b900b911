/* feedback-site thumbs widget: see the README. */
(function () {
  "use strict";
  // Loaded twice: keep the first copy.
  if (window.FeedbackWidget) return;

  const VERSION = "1.0.0";
  const TIMEOUT_MS = 10000;
  const MAX_COMMENT = 2000; // keepalive bodies must stay under 64 KB
  const MAX_DELAY_MS = 300000;
  const MAX_QUEUE = 50;
  const MAX_AGE_MS = 6048e5; // a week
  const PREFIX = "feedback-widget:";
  const locks = navigator.locks;
  const FEEDBACK_PATH = "/api/v1/widget/feedback/";
  const CONV = "data-feedback-conversation";
  const MSG = "data-feedback-message";
  const SELECTOR = "[" + CONV + "][" + MSG + "]";

  const TEXT = {
    en: {
      up: "Good answer", down: "Bad answer", thanks: "Thanks for the feedback",
      removed: "Feedback removed", retry: "Saved, will retry", failed: "Could not send feedback",
      whatWrong: "What went wrong?", addMore: "Anything to add?",
      comment: "Comment (optional)", send: "Send", close: "Close",
    },
    ko: {
      up: "좋은 답변", down: "아쉬운 답변", thanks: "피드백 감사합니다",
      removed: "피드백을 취소했습니다", retry: "저장됨, 다시 보냅니다", failed: "피드백을 보내지 못했습니다",
      whatWrong: "어떤 점이 아쉬웠나요?", addMore: "더 남기실 말씀이 있나요?",
      comment: "의견 (선택)", send: "보내기", close: "닫기",
    },
  };

  const DEFAULT_REASONS = [
    ["incorrect", "Incorrect", "틀린 정보"],
    ["not_helpful", "Not helpful", "도움이 안 됨"],
    ["outdated", "Outdated", "오래된 정보"],
    ["not_grounded", "Not in the sources", "출처에 없는 내용"],
    ["harmful", "Harmful", "유해함"],
  ].map(([slug, en, ko]) => ({ slug, label: { en, ko } }));

  // localStorage may throw: fall back to memory.
  const memory = new Map();

  function load(key) {
    if (memory.has(key)) return memory.get(key);
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  }

  function save(key, value) {
    try {
      if (value == null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
      memory.delete(key);
    } catch {
      memory.set(key, value);
    }
  }

  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  const script =
    document.currentScript ||
    Array.from(document.querySelectorAll('script[src*="feedback-widget.js"]')).pop() ||
    null;
  const data = (script && script.dataset) || {};

  const config = {
    projectKey: data.projectKey || "",
    apiOrigin: data.apiOrigin || new URL(script ? script.src : location.href, location.href).origin,
    lang: data.lang || "",
    user: data.user || "",
    reasons: null,
    auto: data.auto !== "false",
  };

  let anon = "";
  function anonId() {
    if (!anon) {
      anon = load(PREFIX + "anon-id") || "";
      if (!/^anon-/.test(anon)) {
        anon = "anon-" + randomHex(16);
        save(PREFIX + "anon-id", anon);
      }
    }
    return anon;
  }

  function langOf(el) {
    const l = config.lang || el.closest("[lang]")?.lang || document.documentElement.lang || navigator.language || "";
    return /^ko/i.test(l) ? "ko" : "en";
  }

  async function request(method, path, body) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    const headers = { "X-Project-Key": config.projectKey };
    if (body) headers["Content-Type"] = "application/json";
    try {
      const res = await fetch(config.apiOrigin.replace(/\/+$/, "") + path, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        mode: "cors",
        credentials: "omit", // never send the host page's cookies
        keepalive: true, // a vote made as the tab closes still arrives
        signal: ctrl.signal,
      });
      const json = await res.json().catch(() => null);
      return { status: res.status, data: json, retryAfter: res.headers.get("Retry-After") };
    } catch (e) {
      const code = ctrl.signal.aborted ? "timeout" : "network_error";
      return { status: 0, data: { error: { code, message: String(e?.message || e) } } };
    } finally {
      clearTimeout(timer);
    }
  }

  let configPromise = null;
  function getReasons() {
    if (config.reasons) return Promise.resolve(config.reasons);
    if (!configPromise) {
      configPromise = request("GET", "/api/v1/widget/config/").then((r) =>
        r.status >= 200 && r.status < 300 && Array.isArray(r.data?.reasons) && r.data.reasons.length
          ? r.data.reasons
          : DEFAULT_REASONS
      );
    }
    return configPromise;
  }

  const queueKey = () => PREFIX + "queue:" + config.projectKey;
  const sameTarget = (a, b) => a.conversation === b.conversation && a.message === b.message && a.user === b.user;

  function readQueue() {
    try {
      const q = JSON.parse(load(queueKey()) || "[]");
      return Array.isArray(q) ? q.filter((i) => !(Date.now() - i.at > MAX_AGE_MS)) : [];
    } catch {
      return [];
    }
  }

  function writeQueue(q) {
    save(queueKey(), q.length ? JSON.stringify(q) : null);
  }

  function enqueue(method, body) {
    const item = { id: randomHex(8), method, body, attempts: 0, nextAt: 0, at: Date.now() };
    // The latest action per (conversation, message, user) replaces older ones.
    writeQueue(readQueue().filter((i) => !sameTarget(i.body, body)).concat(item).slice(-MAX_QUEUE));
    flush();
    return item.id;
  }

  function retryDelay(attempts, retryAfter) {
    let ms = Math.min(2000 * 2 ** (attempts - 1), MAX_DELAY_MS);
    const given = Number(retryAfter) * 1000;
    if (retryAfter && given >= 0) ms = given;
    return Math.max(ms, 1000);
  }

  let flushing = null;
  let again = false;
  let timer = 0;

  // One drain at a time; a flush asked meanwhile loops once more.
  function flush() {
    if (flushing) {
      again = true;
      return flushing;
    }
    flushing = (async () => {
      try {
        do {
          again = false;
          // Web Locks: one tab at a time drains the queue all tabs share.
          await (locks ? locks.request(queueKey(), drain) : drain());
        } while (again);
      } finally {
        flushing = null;
        schedule();
      }
    })();
    return flushing;
  }

  function schedule() {
    clearTimeout(timer);
    const q = readQueue();
    if (!q.length || navigator.onLine === false) return;
    const next = Math.min(...q.map((i) => i.nextAt || 0));
    timer = setTimeout(flush, Math.max(next - Date.now(), 500));
  }

  // Another tab's localStorage may lag: a sent item's lock tells the next drainer.
  const SENT = PREFIX + "sent:";
  async function drain() {
    const held = new Set(locks ? (await locks.query()).held.map((l) => l.name) : []);
    const fresh = () => readQueue().filter((i) => !held.has(SENT + i.id));
    for (;;) {
      if (navigator.onLine === false) return;
      const now = Date.now();
      // Re-read each time: items may have been superseded meanwhile.
      const item = fresh().find((i) => (i.nextAt || 0) <= now);
      if (!item) return;
      const res = await request(item.method, FEEDBACK_PATH, item.body);
      const ok = res.status >= 200 && res.status < 300;
      const s = res.status;
      // 404 for 10 min: the answer may be logged after it is shown.
      const retry = !ok && (!s || s === 429 || s >= 500 || (s === 404 && now - item.at < 6e5));
      const q = fresh();
      const idx = q.findIndex((i) => i.id === item.id);
      if (!retry) locks?.request(SENT + item.id, () => new Promise((r) => setTimeout(r, 15e3)));
      if (idx >= 0) {
        if (retry) {
          q[idx].attempts = (q[idx].attempts || 0) + 1;
          q[idx].nextAt = Date.now() + retryDelay(q[idx].attempts, res.retryAfter);
        } else {
          q.splice(idx, 1);
        }
      }
      // Saved before the event: a listener that reloads cannot re-send.
      writeQueue(q);
      notify(item, res, ok, retry && idx >= 0);
    }
  }

  function notify(item, res, ok, willRetry) {
    const b = item.body;
    const w = widgets.get(b.conversation + "\n" + b.message);
    const ids = { conversationId: b.conversation, messageId: b.message };
    const detail = ok
      ? Object.assign(ids, {
          user: b.user,
          rating: b.rating || null,
          reasons: b.reasons || [],
          comment: b.comment || "",
          withdrawn: item.method === "DELETE",
        })
      : Object.assign(ids, {
          status: res.status,
          error: res.data?.error || { code: "http_" + res.status, message: "" },
          willRetry,
        });
    if (w) w.onResult(item, ok, willRetry);
    const target = w && w.host.isConnected ? w.host : document;
    const name = ok ? "feedback:submitted" : "feedback:error";
    target.dispatchEvent(new CustomEvent(name, { bubbles: true, composed: true, detail }));
  }

  const CSS = `
:host{display:inline-block;vertical-align:top;font-size:13px;line-height:1.4;font-weight:400;font-style:normal;
 letter-spacing:normal;text-transform:none;text-align:left;text-indent:0;white-space:normal}
.fw{color:var(--feedback-widget-color);font-family:var(--feedback-widget-font);--a:var(--feedback-widget-accent,#2563eb);--b:var(--feedback-widget-bg,transparent);--l:rgba(127,127,127,.5)}
.row{display:inline-flex;align-items:center;gap:4px}
button,textarea{font:inherit;color:inherit;margin:0;background:var(--b);border:1px solid var(--l);border-radius:6px}
button{cursor:pointer}
.row button{width:28px;height:28px;padding:0;display:grid;place-items:center;border-color:transparent;opacity:.75}
.row button:hover{opacity:1;background:rgba(127,127,127,.15)}
.row [aria-pressed=true]{opacity:1;color:var(--a);border-color:currentColor}
svg{width:18px;height:18px;fill:none;stroke:currentColor;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}
[aria-pressed=true] svg{fill:currentColor;fill-opacity:.25}
.down svg{transform:rotate(180deg)}
:focus-visible{outline:2px solid var(--a);outline-offset:2px}
.status{font-size:12px;opacity:.8}
form{display:flex;flex-direction:column;gap:6px;margin-top:6px;padding:8px;max-width:320px;border:1px solid var(--l);border-radius:8px}
[hidden]{display:none!important}
.head{display:flex;justify-content:space-between;font-weight:600}
.close{border:0;font-size:16px;line-height:1;padding:2px 6px}
.chips{display:flex;flex-wrap:wrap;gap:4px}
.chips button{border-radius:999px;padding:2px 10px;font-size:12px}
.chips [aria-pressed=true],.send{background:var(--a);border-color:var(--a);color:#fff}
textarea{box-sizing:border-box;width:100%;min-height:3.2em;resize:vertical;padding:4px 6px}
.send{align-self:flex-end;padding:4px 12px}
`;
  const THUMB =
    "M7 10v11H4a1 1 0 0 1-1-1v-9a1 1 0 0 1 1-1h3zm0 0 4-8a2.5 2.5 0 0 1 2.5 2.5V9h5.2a2 2 0 0 1 2 2.3l-1.3 8A2 2 0 0 1 17.4 21H7";

  let sheet = null;
  function addStyles(root) {
    try {
      // Constructed sheets pass a strict style-src CSP; <style> may not.
      if (!sheet) {
        sheet = new CSSStyleSheet();
        sheet.replaceSync(CSS);
      }
      root.adoptedStyleSheets = [sheet];
    } catch {
      root.append(h("style", {}, CSS));
    }
  }

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    el.append(...kids); // strings become text nodes, never markup
    return el;
  }

  function thumb() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("d", THUMB);
    svg.append(path);
    return svg;
  }

  function label(el, text) {
    el.setAttribute("aria-label", text);
    el.title = text;
  }

  const widgets = new Map(); // "conversation\nmessage" -> Widget
  const byElement = new WeakMap();
  // Each answer's vote by this user, kept across reloads (the latest 200).
  const votesKey = () => PREFIX + "votes:" + config.projectKey;
  function votes() {
    try {
      return JSON.parse(load(votesKey())) || {};
    } catch {
      return {};
    }
  }
  function remember(k, rating) {
    const v = votes();
    delete v[k];
    if (rating) v[k] = rating;
    save(votesKey(), JSON.stringify(Object.fromEntries(Object.entries(v).slice(-200))));
  }

  class Widget {
    constructor(el, conversation, message, opts) {
      this.target = el;
      this.conversation = conversation;
      this.message = message;
      this.key = conversation + "\n" + message;
      this.user = opts.user || "";
      this.token = opts.token || "";
      this.rating = null;
      this.confirmed = null;
      this.reasons = new Set();
      this.lastId = null;
      this.statusTimer = 0;
      this.handle = { element: null, destroy: () => this.destroy() };

      this.host = this.handle.element = h("span", { class: "feedback-widget-host" });
      this.root = this.host.attachShadow({ mode: "open" });
      addStyles(this.root);

      this.up = h("button", { type: "button", class: "up", part: "button up-button" }, thumb());
      this.down = h("button", { type: "button", class: "down", part: "button down-button" }, thumb());
      this.statusEl = h("span", { class: "status", part: "status", role: "status", "aria-live": "polite" });
      this.title = h("span", { id: "t" });
      this.closeBtn = h("button", { type: "button", class: "close", part: "close" }, "\u00d7");
      this.chips = h("div", { class: "chips", role: "group" });
      this.comment = h("textarea", { part: "comment", rows: "2", maxlength: String(MAX_COMMENT) });
      this.send = h("button", { type: "submit", class: "send", part: "send" });
      this.form = h(
        "form",
        { part: "form", "aria-labelledby": "t", hidden: "" },
        h("div", { class: "head" }, this.title, this.closeBtn),
        this.chips,
        this.comment,
        this.send
      );
      this.wrap = h("div", { class: "fw", part: "widget" }, h("div", { class: "row" }, this.up, this.down, this.statusEl), this.form);
      this.root.append(this.wrap);

      this.up.addEventListener("click", () => this.vote("up"));
      this.down.addEventListener("click", () => this.vote("down"));
      this.closeBtn.addEventListener("click", () => this.closeForm());
      this.form.addEventListener("submit", (e) => {
        e.preventDefault();
        if (this.rating && (this.reasons.size || this.comment.value.trim())) this.submit(false);
        this.closeForm();
      });
      this.wrap.addEventListener("keydown", (e) => {
        if (e.key === "Escape" && !e.isComposing && !this.form.hidden) {
          e.stopPropagation(); // don't also close a surrounding dialog
          this.closeForm();
        }
      });
      // Fetch config when the user comes near, not on every page view.
      this.wrap.addEventListener("pointerenter", getReasons, { once: true });
      this.wrap.addEventListener("focusin", getReasons, { once: true });

      // Show a vote still queued (from before a reload).
      const body = { conversation, message, user: this.who() };
      const pending = readQueue().find((i) => sameTarget(i.body, body));
      if (pending) {
        this.rating = pending.method === "DELETE" ? null : pending.body.rating;
        this.lastId = pending.id;
      } else {
        this.rating = votes()[this.vkey()] || null;
        this.confirmed = this.rating;
      }
      this.sync();
      this.applyText();
    }

    text() {
      return TEXT[langOf(this.target)];
    }

    who() {
      return this.user || config.user || anonId();
    }

    vkey() {
      return this.key + "\n" + this.who();
    }

    applyText() {
      const t = this.text();
      this.wrap.lang = langOf(this.target);
      label(this.up, t.up);
      label(this.down, t.down);
      label(this.closeBtn, t.close);
      this.chips.setAttribute("aria-label", t.whatWrong);
      this.comment.placeholder = t.comment;
      this.comment.setAttribute("aria-label", t.comment);
      this.send.textContent = t.send;
      this.title.textContent = this.rating === "down" ? t.whatWrong : t.addMore;
      if (!this.form.hidden && this.rating === "down") this.renderChips();
    }

    sync() {
      this.up.setAttribute("aria-pressed", String(this.rating === "up"));
      this.down.setAttribute("aria-pressed", String(this.rating === "down"));
    }

    vote(rating) {
      const withdraw = this.rating === rating; // pressed thumb again = withdraw
      this.rating = withdraw ? null : rating;
      remember(this.vkey(), this.rating);
      this.reasons.clear();
      this.comment.value = "";
      this.sync();
      this.submit(withdraw);
      if (withdraw) this.closeForm();
      else this.openForm();
    }

    submit(withdraw) {
      const body = { conversation: this.conversation, message: this.message, user: this.who() };
      if (!withdraw) {
        body.rating = this.rating;
        body.reasons = Array.from(this.reasons);
        body.comment = this.comment.value.trim().slice(0, MAX_COMMENT);
      }
      if (this.token) body.token = this.token;
      this.lastId = enqueue(withdraw ? "DELETE" : "POST", body);
    }

    openForm() {
      this.chips.hidden = this.rating !== "down";
      this.chips.textContent = "";
      this.form.hidden = false;
      this.applyText();
    }

    renderChips() {
      getReasons().then((list) => {
        if (this.rating !== "down" || this.form.hidden) return;
        const lang = langOf(this.target);
        const chips = list.map((r) => {
          const reason = typeof r === "string" ? { slug: r, label: r } : r;
          const l = reason.label;
          const chip = h(
            "button",
            { type: "button", part: "reason", "aria-pressed": String(this.reasons.has(reason.slug)) },
            typeof l === "string" ? l : (l && (l[lang] || l.en)) || reason.slug
          );
          chip.addEventListener("click", () => {
            const on = !this.reasons.has(reason.slug);
            if (on) this.reasons.add(reason.slug);
            else this.reasons.delete(reason.slug);
            chip.setAttribute("aria-pressed", String(on));
          });
          return chip;
        });
        this.chips.replaceChildren(...chips);
      });
    }

    closeForm() {
      const hadFocus = this.form.contains(this.root.activeElement);
      this.form.hidden = true;
      if (hadFocus) (this.rating === "down" ? this.down : this.up).focus();
    }

    onResult(item, ok, willRetry) {
      const t = this.text();
      if (ok) {
        this.confirmed = item.method === "DELETE" ? null : item.body.rating;
        this.status(item.method === "DELETE" ? t.removed : t.thanks);
      } else if (willRetry) {
        this.status(t.retry);
      } else {
        if (item.id === this.lastId) {
          // Refused for good: show what the server has.
          this.rating = this.confirmed;
          remember(this.vkey(), this.rating);
          this.sync();
          this.closeForm();
        }
        this.status(t.failed);
      }
    }

    status(msg) {
      this.statusEl.textContent = msg;
      clearTimeout(this.statusTimer);
      this.statusTimer = setTimeout(() => (this.statusEl.textContent = ""), 4000);
    }

    // attach() again, or a new user or token attribute.
    set(user, token) {
      this.user = user || this.user;
      this.token = token || this.token;
      return this.handle;
    }

    destroy() {
      clearTimeout(this.statusTimer);
      this.host.remove();
      if (widgets.get(this.key) === this) widgets.delete(this.key);
      if (byElement.get(this.target) === this) byElement.delete(this.target);
    }
  }

  function attach(el, opts) {
    opts = opts || {};
    if (!el || el.nodeType !== 1) throw new TypeError("FeedbackWidget.attach: an element is required");
    const d = el.dataset;
    const conversation = String(opts.conversationId || d.feedbackConversation || "");
    const message = String(opts.messageId || d.feedbackMessage || "");
    if (!conversation || !message) {
      console.warn("FeedbackWidget.attach: conversationId and messageId are required", el);
      return null;
    }
    const key = conversation + "\n" + message;
    const user = opts.user || d.feedbackUser;
    const token = opts.token || d.feedbackToken;
    let w = byElement.get(el);
    if (w && w.key === key && w.host.isConnected) return w.set(user, token);
    if (w) w.destroy();
    w = widgets.get(key);
    if (w && w.host.isConnected) return w.set(user, token);
    if (w) w.destroy();
    w = new Widget(el, conversation, message, { user, token });
    el.append(w.host);
    widgets.set(key, w);
    byElement.set(el, w);
    return w.handle;
  }

  function scan(root) {
    root = root || document;
    const found = root.querySelectorAll ? Array.from(root.querySelectorAll(SELECTOR)) : [];
    if (root.matches && root.matches(SELECTOR)) found.unshift(root);
    return found.map((el) => attach(el)).filter(Boolean);
  }

  let observer = null;
  function observe() {
    if (observer || !document.body) return;
    // Chat UIs stream answers in and may set ids only once one is complete.
    observer = new MutationObserver((records) => {
      for (const m of records) {
        if (m.type === "attributes") {
          scan(m.target);
          continue;
        }
        // The page replaced the element's children: put it back.
        const w = byElement.get(m.target);
        if (w && !w.host.isConnected) m.target.append(w.host);
        for (const n of m.addedNodes) if (n.nodeType === 1) scan(n);
      }
    });
    observer.observe(document.body, { childList: true, subtree: true, attributes: true, attributeFilter: [CONV, MSG, "data-feedback-user", "data-feedback-token"] });
  }

  function whenReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn, { once: true });
    else fn();
  }

  function init(options) {
    options = options || {};
    const before = config.projectKey + " " + config.apiOrigin;
    for (const k of ["projectKey", "apiOrigin", "lang", "user", "reasons", "auto"]) {
      if (options[k] != null) config[k] = options[k];
    }
    if (before !== config.projectKey + " " + config.apiOrigin) configPromise = null;
    if (options.lang) widgets.forEach((w) => w.applyText());
    whenReady(() => {
      if (config.auto) {
        scan(document);
        observe();
      } else if (observer) {
        observer.disconnect();
        observer = null;
      }
      flush(); // send anything queued before a reload
    });
    return api;
  }

  const api = { version: VERSION, init, attach, scan, flush: () => flush() };
  window.FeedbackWidget = api;

  window.addEventListener("online", () => flush());
  if (config.projectKey) init();
})();
