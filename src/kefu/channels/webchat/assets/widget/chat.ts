// The chat widget: launcher, window, message list, composer, satisfaction prompt; and the
// session behind them (start, resume after a reload, send with retry, replies by SSE or polling).

import { Api, ApiError, type Credentials, uuid } from "./api";
import { fillWith, h, icon, setText, show } from "./dom";
import { fill, isEnglish, type Strings, strings } from "./i18n";
import { type Item, Store, safeUrl } from "./store";
import { CSS } from "./styles";
import { Transport } from "./transport";
import { MAX_TEXT, type Offer, type SessionReply, type Typing } from "./types";

export interface Config {
  site: string;
  locale: string;
  customerToken: string;
  /** kefu's origin, e.g. "https://kefu.bank.example" (no trailing slash). */
  apiBase: string;
  polling: boolean;
  accent: string | null;
}

interface Saved {
  session: string;
  token: string;
  signedIn: boolean;
  greeting: string;
  quickReplies: string[];
  open: boolean;
  csatDone: boolean;
}

const SEND_RETRIES = 3;
const TYPING_EVERY_MS = 3000;
const WAIT_FOR_REPLY_MS = 20000;
const REMOTE_TYPING_MS = 10000;

/** Length as the server counts it: code points, not UTF-16 units. */
export function textLength(text: string): number {
  return Array.from(text).length;
}

export class Chat {
  readonly t: Strings;
  readonly store = new Store();
  private readonly api: Api;
  private readonly key: string;
  private saved: Saved | null;
  private transport: Transport | null = null;
  private starting: Promise<Credentials | null> | null = null;
  private isOpen = false;
  private unread = 0;
  private waitUntil = 0;
  private remoteTyping = 0;
  private typingSentAt = 0;
  private typingSent = false;
  private typingOff = false;
  private csatScore = 0;
  private csatThanks = false;
  private timers: Record<string, ReturnType<typeof setTimeout>> = {};
  private nodes = new Map<string, HTMLElement>();

  // The DOM.
  readonly host: HTMLElement;
  private readonly root: ShadowRoot;
  private readonly launcher: HTMLButtonElement;
  private readonly badge: HTMLElement;
  private readonly win: HTMLElement;
  private readonly banner: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly log: HTMLElement;
  private readonly typing: HTMLElement;
  private readonly quick: HTMLElement;
  private csat: HTMLFormElement;
  private readonly ended: HTMLElement;
  private readonly composer: HTMLFormElement;
  private readonly input: HTMLTextAreaElement;
  private readonly counter: HTMLElement;
  private readonly error: HTMLElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly branchMap: HTMLAnchorElement;
  private readonly offerBox: HTMLElement;
  private offerAsked = false;
  private notices = { connection: "", session: "" };

  constructor(private readonly config: Config) {
    this.t = strings(config.locale);
    this.api = new Api(`${config.apiBase}/channels/webchat/${encodeURIComponent(config.site)}`);
    this.key = `kefu-wc:${config.site}`;
    this.saved = this.load();
    const t = this.t;

    this.host = h("div", { class: "kefu-wc-host", "data-kefu-wc": config.site });
    this.root = this.host.attachShadow({ mode: "open" });
    this.adoptStyles();

    this.badge = h("span", { class: "kefu-wc-badge", "aria-hidden": "true", "data-testid": "kefu-wc-badge", hidden: true });
    this.launcher = h(
      "button",
      { type: "button", class: "kefu-wc-launcher", "aria-expanded": "false", "aria-controls": "kefu-wc-window", "data-testid": "kefu-wc-launcher" },
      icon(),
      h("span", {}, t.launcher),
      this.badge,
    );
    // The bank's branch map for this chat: a ticket taken there is tied to the chat, and
    // "3 ahead" arrives here as a message (the map reads the signed session token).
    this.branchMap = h("a", { class: "kefu-wc-branch-map", target: "_blank", rel: "noopener noreferrer", "data-testid": "kefu-wc-branch-map", hidden: true }, t.branchMap);
    const close = h("button", { type: "button", class: "kefu-wc-close", "aria-label": t.close, title: t.close, "data-testid": "kefu-wc-close" }, h("span", { "aria-hidden": "true" }, "×"));
    this.banner = h("div", { class: "kefu-wc-banner", role: "status", "data-testid": "kefu-wc-banner", hidden: true });
    // A cross-selling offer the bank chose for this signed-in customer's visit (text as text).
    this.offerBox = h("section", { class: "kefu-wc-offer", "aria-label": t.offer, "data-testid": "kefu-wc-offer", hidden: true });
    this.notice = h("div", { class: "kefu-wc-notice", role: "status", "data-testid": "kefu-wc-notice", hidden: true });
    this.log = h("div", { class: "kefu-wc-log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t.log, tabindex: "0", "data-testid": "kefu-wc-log" });
    this.typing = h("div", { class: "kefu-wc-typing", "data-testid": "kefu-wc-typing", hidden: true },
      h("span", { "aria-hidden": "true" }, h("span", { class: "kefu-wc-dot" }), h("span", { class: "kefu-wc-dot" }), h("span", { class: "kefu-wc-dot" })),
      h("span", {}, t.typing));
    this.quick = h("div", { class: "kefu-wc-quick", role: "group", "aria-label": t.quickReplies, "data-testid": "kefu-wc-quick", hidden: true });
    this.csat = this.buildCsat();
    this.ended = h("div", { class: "kefu-wc-ended", "data-testid": "kefu-wc-ended", hidden: true });
    this.input = h("textarea", { class: "kefu-wc-input", rows: 2, "aria-label": t.input, placeholder: t.placeholder, "aria-describedby": "kefu-wc-counter kefu-wc-error", "data-testid": "kefu-wc-input" });
    this.counter = h("span", { class: "kefu-wc-counter", id: "kefu-wc-counter", "data-testid": "kefu-wc-counter" });
    this.error = h("span", { class: "kefu-wc-error", id: "kefu-wc-error", role: "alert", "data-testid": "kefu-wc-error" });
    this.sendButton = h("button", { type: "submit", class: "kefu-wc-send", "data-testid": "kefu-wc-send" }, t.send);
    this.composer = h("form", { class: "kefu-wc-composer", "data-testid": "kefu-wc-composer" },
      this.input, h("div", { class: "kefu-wc-foot" }, this.error, this.counter, this.sendButton));
    this.win = h(
      "section",
      { class: "kefu-wc-window", id: "kefu-wc-window", role: "dialog", "aria-modal": "false", "aria-labelledby": "kefu-wc-title", "data-testid": "kefu-wc-window", hidden: true },
      h("header", { class: "kefu-wc-header" },
        h("div", {}, h("h2", { class: "kefu-wc-title", id: "kefu-wc-title" }, t.title), h("p", { class: "kefu-wc-subtitle" }, t.subtitle)),
        this.branchMap, close),
      this.banner, this.offerBox, this.notice, this.log, this.typing, this.quick, this.csat, this.ended, this.composer,
    );
    const frame = h("div", { class: "kefu-wc", lang: isEnglish(config.locale) ? "en" : "zh-CN" }, this.launcher, this.win);
    if (config.accent) frame.style.setProperty("--kefu-wc-accent", config.accent);
    this.root.append(frame);

    this.launcher.addEventListener("click", () => this.open());
    close.addEventListener("click", () => this.close());
    frame.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.isOpen) {
        event.preventDefault();
        this.close();
      }
    });
    this.composer.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => {
      // Enter sends; Shift+Enter is a new line; Enter that picks a pinyin candidate is not sent.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => {
      this.setError("");
      this.renderComposer();
      this.sendTyping(this.input.value.trim() !== "");
    });
    this.input.addEventListener("blur", () => this.sendTyping(false));
    this.render();
  }

  /** Put the widget in the page and resume a session this tab already has. */
  mount(parent: HTMLElement): void {
    parent.append(this.host);
    if (this.saved && this.saved.signedIn !== !!this.config.customerToken) {
      // Signed in or out since: the old conversation is not this visitor's any more.
      this.forget();
    }
    if (this.saved) {
      this.starting = this.resume(this.saved);
      if (this.saved.open) this.open(false);
    }
  }

  // ---- public API (window.KefuChat) ----

  open(focus = true): void {
    if (!this.isOpen) {
      this.isOpen = true;
      this.unread = 0;
      show(this.win, true);
      show(this.launcher, false);
      this.launcher.setAttribute("aria-expanded", "true");
      this.persist({ open: true });
      this.render();
      this.scrollToEnd();
      this.ensureSession();
    }
    if (focus) (this.input.disabled ? this.log : this.input).focus();
  }

  close(): void {
    if (!this.isOpen) return;
    const hadFocus = this.root.activeElement !== null;
    this.isOpen = false;
    show(this.win, false);
    show(this.launcher, true);
    this.launcher.setAttribute("aria-expanded", "false");
    this.persist({ open: false });
    this.sendTyping(false);
    if (hadFocus) this.launcher.focus();
  }

  /** The host page signed the customer in (or out, with ""): the next conversation is theirs. */
  signIn(customerToken: string): void {
    this.config.customerToken = customerToken || "";
    this.forget();
    if (this.isOpen) this.ensureSession();
  }

  // ---- session ----

  private credentials(): Credentials | null {
    return this.saved ? { session: this.saved.session, token: this.saved.token } : null;
  }

  private ensureSession(): Promise<Credentials | null> {
    if (!this.starting) this.starting = this.startSession();
    return this.starting;
  }

  private async startSession(): Promise<Credentials | null> {
    this.setNotice("session", this.t.connecting);
    let reply: SessionReply;
    try {
      reply = await this.api.start(this.config.customerToken, isEnglish(this.config.locale) ? "en" : "zh_CN");
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      if (status === 401 && this.config.customerToken) {
        // The bank's token expired or is not accepted: carry on as a guest, and say so.
        this.config.customerToken = "";
        this.starting = null;
        const credentials = await this.ensureSession();
        this.addSystemNote(this.t.expired);
        return credentials;
      }
      this.setNotice("session", status === 403 ? this.t.forbidden : status === 429 ? this.t.tooFast : this.t.unavailable);
      this.starting = null;
      return null;
    }
    this.setNotice("session", "");
    this.saved = {
      session: reply.session,
      token: reply.token,
      signedIn: !!reply.signed_in,
      greeting: reply.greeting || "",
      quickReplies: reply.quick_replies || [],
      open: this.isOpen,
      csatDone: false,
    };
    this.persist({});
    this.connect();
    this.render();
    this.askOffer();
    return this.credentials();
  }

  /** A reload: the history, then the live stream after it. A token no longer accepted means a
   *  new session (when the window is open). */
  private async resume(saved: Saved): Promise<Credentials | null> {
    const credentials = { session: saved.session, token: saved.token };
    try {
      const page = await this.api.messages(credentials, 0);
      for (const message of page.messages || []) this.store.receive(message);
      if (page.state) this.store.setState(page.state);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.forget();
        return this.isOpen ? this.ensureSession() : null;
      }
      // Offline for now: the stream below catches up when the network is back.
    }
    this.connect();
    this.render();
    this.scrollToEnd();
    this.askOffer();
    return credentials;
  }

  private connect(): void {
    const credentials = this.credentials();
    if (!credentials) return;
    this.transport?.stop();
    this.transport = new Transport(this.api, credentials, () => this.store.lastSeq, {
      message: (message) => {
        if (!this.store.receive(message)) return this.render();
        if (message.direction === "out") {
          // (The waiting indicator ends by itself: it shows while the last message is the
          // customer's, so a late greeting, sorted before the question, does not end it.)
          if (message.sender !== "system") this.remoteTyping = 0;
          if (!this.isOpen) this.unread += 1;
        }
        this.render();
        this.scrollToEnd();
      },
      state: (state) => {
        this.store.setState(state);
        this.render();
      },
      typing: (typing: Typing) => {
        this.remoteTyping = typing.typing ? Date.now() + REMOTE_TYPING_MS : 0;
        this.renderTyping();
      },
      online: (ok) => this.setNotice("connection", ok ? "" : this.t.reconnecting),
      unauthorized: () => {
        this.forget();
        if (this.isOpen) this.ensureSession();
      },
    }, this.config.polling);
    this.transport.start();
  }

  /** Drop the session (storage, stream, messages). */
  private forget(): void {
    this.transport?.stop();
    this.transport = null;
    this.starting = null;
    this.saved = null;
    this.store.reset();
    this.csatThanks = false;
    this.csatScore = 0;
    this.offerAsked = false;
    fillWith(this.offerBox);
    show(this.offerBox, false);
    const csat = this.buildCsat();
    this.csat.replaceWith(csat);
    this.csat = csat;
    try {
      sessionStorage.removeItem(this.key);
    } catch {
      // storage unavailable (private mode, sandboxed frame): nothing was kept
    }
    this.render();
  }

  private load(): Saved | null {
    try {
      const raw = sessionStorage.getItem(this.key);
      const saved = raw ? JSON.parse(raw) : null;
      return saved && typeof saved.session === "string" && typeof saved.token === "string" ? saved : null;
    } catch {
      return null;
    }
  }

  private persist(change: Partial<Saved>): void {
    if (!this.saved) return;
    Object.assign(this.saved, change);
    try {
      sessionStorage.setItem(this.key, JSON.stringify(this.saved));
    } catch {
      // storage unavailable: the conversation lasts as long as the page
    }
  }

  // ---- sending ----

  private submit(): void {
    const text = this.input.value.trim();
    if (this.send(text)) {
      this.input.value = "";
      this.renderComposer();
    }
    this.input.focus();
  }

  /** Send a message (the composer or a quick reply). False when it was refused as it stands. */
  send(text: string): boolean {
    if (!text) {
      this.setError(this.t.empty);
      return false;
    }
    if (textLength(text) > MAX_TEXT) {
      this.setError(this.t.tooLong);
      return false;
    }
    if (this.store.state.closed) return false;
    this.setError("");
    const clientId = uuid();
    this.store.addPending(clientId, text);
    this.typingSent = false; // the message ends the typing on the server's side
    this.waitUntil = Date.now() + WAIT_FOR_REPLY_MS;
    this.later("wait", WAIT_FOR_REPLY_MS + 50, () => this.renderTyping());
    this.render();
    this.scrollToEnd();
    this.deliver(clientId, 0, false);
    return true;
  }

  /** POST the message; the same client_id on every retry, so the server stores it once. */
  private async deliver(clientId: string, attempt: number, renewed: boolean): Promise<void> {
    const item = this.store.byClientId(clientId);
    if (!item) return;
    const credentials = await this.ensureSession();
    if (!credentials) {
      this.store.fail(clientId, this.t.unavailable);
      return this.render();
    }
    try {
      const answer = await this.api.send(credentials, item.text, clientId);
      this.store.confirm(clientId, answer.seq);
    } catch (error) {
      const status = error instanceof ApiError ? error.status : 0;
      if ((status === 0 || status >= 500) && attempt < SEND_RETRIES) {
        this.later(`send:${clientId}`, 1000 * 2 ** attempt, () => this.deliver(clientId, attempt + 1, renewed));
        return;
      }
      if (status === 401 && !renewed) {
        this.forget();
        this.store.addPending(clientId, item.text);
        this.render();
        return this.deliver(clientId, attempt, true);
      }
      let reason = this.t.failed;
      if (status === 429) reason = this.t.tooFast;
      else if (status === 413 || status === 422) reason = item.text.trim() ? this.t.tooLong : this.t.empty;
      this.store.fail(clientId, reason);
      this.waitUntil = 0;
      if (status === 429 || status === 413 || status === 422) this.setError(reason);
    }
    this.render();
  }

  private retry(clientId: string): void {
    this.store.retrying(clientId);
    this.setError("");
    this.waitUntil = Date.now() + WAIT_FOR_REPLY_MS;
    this.render();
    this.deliver(clientId, 0, false);
  }

  private sendTyping(typing: boolean): void {
    const credentials = this.credentials();
    if (!credentials || this.typingOff || (typing === this.typingSent && !typing)) return;
    const now = Date.now();
    if (typing && now - this.typingSentAt < TYPING_EVERY_MS) return;
    this.typingSentAt = now;
    this.typingSent = typing;
    this.api.typing(credentials, typing).catch((error) => {
      // A kefu without the typing endpoint: stop asking.
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) this.typingOff = true;
    });
  }

  // ---- satisfaction ----

  private buildCsat(): HTMLFormElement {
    const t = this.t;
    const form = h("form", { class: "kefu-wc-csat", "data-testid": "kefu-wc-csat", hidden: true });
    const stars = h("div", { class: "kefu-wc-stars" });
    const labels: HTMLElement[] = [];
    for (let score = 1; score <= 5; score++) {
      const radio = h("input", { type: "radio", name: "kefu-wc-score", value: score, "aria-label": fill(t.star, { n: score }), "data-testid": `kefu-wc-star-${score}` });
      radio.addEventListener("change", () => {
        this.csatScore = score;
        labels.forEach((label, index) => label.classList.toggle("kefu-wc-star-on", index < score));
        submit.disabled = false;
      });
      const label = h("label", { class: "kefu-wc-star" }, radio, h("span", { "aria-hidden": "true" }, "★"));
      labels.push(label);
      stars.append(label);
    }
    const comment = h("textarea", { rows: 2, maxlength: 500, "aria-label": t.csatComment, placeholder: t.csatComment, "data-testid": "kefu-wc-csat-comment" });
    const submit = h("button", { type: "submit", class: "kefu-wc-primary", disabled: true, "data-testid": "kefu-wc-csat-submit" }, t.csatSubmit);
    const status = h("p", { class: "kefu-wc-error", role: "alert" });
    form.append(h("fieldset", {}, h("legend", {}, t.csatTitle), stars), comment, submit, status);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const credentials = this.credentials();
      if (!credentials || !this.csatScore) return;
      submit.disabled = true;
      try {
        await this.api.csat(credentials, this.csatScore, comment.value.trim());
        this.persist({ csatDone: true });
        this.csatThanks = true;
        fillWith(form, h("p", { class: "kefu-wc-thanks", role: "status", "data-testid": "kefu-wc-csat-thanks" }, t.csatThanks));
        this.render();
        this.log.focus();
      } catch {
        setText(status, t.csatFailed);
        submit.disabled = false;
      }
    });
    return form;
  }

  // ---- the offer banner ----

  /** Once per page load, for a signed-in visitor: the server records the showing once per
   *  visit and answers the same banner again on a reload. A failure shows nothing. */
  private async askOffer(): Promise<void> {
    const credentials = this.credentials();
    if (this.offerAsked || !credentials || !this.saved?.signedIn) return;
    this.offerAsked = true;
    try {
      const reply = await this.api.offer(credentials);
      if (reply && reply.offer && this.credentials()?.session === credentials.session) this.showOffer(credentials, reply.offer);
    } catch {
      // no banner this time: the chat does not depend on it
    }
  }

  private showOffer(credentials: Credentials, offer: Offer): void {
    const t = this.t;
    const yes = h("button", { type: "button", class: "kefu-wc-offer-yes", "data-testid": "kefu-wc-offer-yes" }, t.offerInterested);
    const no = h("button", { type: "button", class: "kefu-wc-offer-no", "data-testid": "kefu-wc-offer-no" }, t.offerDismiss);
    fillWith(
      this.offerBox,
      h("span", { class: "kefu-wc-offer-title" }, t.offer),
      h("span", { class: "kefu-wc-offer-text", "data-testid": "kefu-wc-offer-text" }, offer.text),
      offer.disclosure ? h("span", { class: "kefu-wc-offer-disclosure", "data-testid": "kefu-wc-offer-disclosure" }, offer.disclosure) : null,
      h("div", { class: "kefu-wc-offer-actions" }, yes, no),
    );
    show(this.offerBox, true);
    const answer = async (action: "click" | "dismiss"): Promise<void> => {
      yes.disabled = no.disabled = true;
      try {
        await this.api.answerOffer(credentials, offer.id, action);
      } catch {
        yes.disabled = no.disabled = false;
        return;
      }
      if (action === "click") {
        fillWith(this.offerBox, h("p", { role: "status", "data-testid": "kefu-wc-offer-thanks" }, t.offerThanks));
      } else {
        fillWith(this.offerBox);
        show(this.offerBox, false);
      }
      this.input.focus();
    };
    yes.addEventListener("click", () => answer("click"));
    no.addEventListener("click", () => answer("dismiss"));
  }

  // ---- rendering ----

  private render(): void {
    this.renderBranchMap();
    this.renderMessages();
    this.renderTyping();
    this.renderState();
    this.renderComposer();
    setText(this.badge, this.unread ? String(this.unread) : "");
    show(this.badge, this.unread > 0);
    if (this.unread) this.launcher.setAttribute("aria-label", `${this.t.launcher} (${fill(this.t.unread, { n: this.unread })})`);
    else this.launcher.removeAttribute("aria-label");
  }

  /** The branch-queue link carries this chat's session token: shown once there is a session. */
  private renderBranchMap(): void {
    const c = this.credentials();
    if (c) {
      const query = `chat=${encodeURIComponent(c.token)}&site=${encodeURIComponent(this.config.site)}`;
      this.branchMap.href = `${this.config.apiBase}/branch/map?${query}`;
    }
    show(this.branchMap, !!c);
  }

  /** The greeting from the session's start, unless the history holds it already. */
  private greetingItem(): Item | null {
    const greeting = this.saved?.greeting;
    if (!greeting || this.store.items.some((item) => item.direction === "out" && item.text === greeting)) return null;
    return {
      key: "greeting", seq: null, clientId: null, direction: "out", sender: "bot", text: greeting, card: null,
      quickReplies: this.saved?.quickReplies || [], createdAt: "", status: "sent", error: "",
    };
  }

  private renderMessages(): void {
    const greeting = this.greetingItem();
    const items = greeting ? [greeting, ...this.store.items] : this.store.items;
    const keep = new Set(items.map((item) => item.key));
    for (const [key, node] of this.nodes) {
      if (!keep.has(key)) {
        node.remove();
        this.nodes.delete(key);
      }
    }
    let previous: HTMLElement | null = null;
    for (const item of items) {
      let node = this.nodes.get(item.key);
      if (!node) {
        node = this.messageNode(item);
        this.nodes.set(item.key, node);
      }
      this.updateMeta(node, item);
      const expected: ChildNode | null = previous ? previous.nextSibling : this.log.firstChild;
      if (expected !== node) this.log.insertBefore(node, expected);
      previous = node;
    }
    // Quick replies belong to the last message when it is the bot's or the agent's.
    const last = items[items.length - 1];
    const replies = last && last.direction === "out" && !this.store.state.closed ? last.quickReplies : [];
    const current = Array.from(this.quick.children, (b) => b.textContent).join("\n");
    if (current !== replies.join("\n")) {
      fillWith(
        this.quick,
        ...replies.map((text) => {
          const button = h("button", { type: "button", "data-testid": "kefu-wc-quick-reply" }, text);
          button.addEventListener("click", () => {
            this.send(text);
            this.input.focus(); // the buttons go away with the answer: focus stays in the chat
          });
          return button;
        }),
      );
    }
    show(this.quick, replies.length > 0);
  }

  private messageNode(item: Item): HTMLElement {
    const t = this.t;
    const kind = item.sender === "system" ? "system" : item.direction;
    const who = item.sender === "customer" ? t.you : item.sender === "agent" ? t.agentLabel : item.sender === "bot" ? t.bot : t.system;
    const node = h("div", { class: `kefu-wc-msg kefu-wc-msg-${kind}`, "data-testid": "kefu-wc-message", "data-sender": item.sender },
      kind === "out" ? h("div", { class: "kefu-wc-who", "aria-hidden": "true" }, who) : null,
      h("span", { class: "kefu-wc-sr" }, `${who}: `),
      // A card that carries the text as its body is shown alone, not after the same words.
      item.text && !(item.card && item.card.body === item.text) ? h("div", { class: "kefu-wc-bubble", "data-testid": "kefu-wc-text" }, item.text) : null,
    );
    if (item.card) {
      const url = safeUrl(item.card.url, this.config.apiBase || location.href);
      node.append(h("div", { class: "kefu-wc-card", "data-testid": "kefu-wc-card" },
        h("p", { class: "kefu-wc-card-title" }, String(item.card.title ?? "")),
        h("p", { class: "kefu-wc-card-body" }, String(item.card.body ?? "")),
        url ? h("a", { class: "kefu-wc-card-link", href: url, target: "_blank", rel: "noopener noreferrer", "data-testid": "kefu-wc-card-link" }, t.details) : null,
      ));
    }
    node.append(h("div", { class: "kefu-wc-meta", "data-testid": "kefu-wc-meta" }));
    return node;
  }

  private updateMeta(node: HTMLElement, item: Item): void {
    const meta = node.lastElementChild as HTMLElement;
    node.dataset.seq = item.seq === null ? "" : String(item.seq);
    node.classList.toggle("kefu-wc-msg-pending", item.status === "pending");
    node.classList.toggle("kefu-wc-msg-failed", item.status === "failed");
    let text = clock(item.createdAt);
    if (item.direction === "in" && item.sender === "customer") {
      const mark = item.status === "pending" ? this.t.sending : item.status === "failed" ? `${this.t.failed}：${item.error}` : this.store.isRead(item) ? this.t.read : "";
      text = [text, mark].filter(Boolean).join(" · ");
    }
    const signature = `${item.status}|${text}`;
    if (meta.dataset.signature === signature) return;
    meta.dataset.signature = signature;
    meta.className = item.status === "failed" ? "kefu-wc-meta kefu-wc-meta-failed" : "kefu-wc-meta";
    fillWith(meta, text);
    if (item.status === "failed" && item.clientId) {
      const clientId = item.clientId;
      const retry = h("button", { type: "button", class: "kefu-wc-retry", "data-testid": "kefu-wc-retry" }, this.t.retry);
      retry.addEventListener("click", () => {
        this.retry(clientId);
        this.input.focus();
      });
      meta.append(retry);
    }
  }

  private renderTyping(): void {
    const now = Date.now();
    const state = this.store.state;
    const waiting = this.waitUntil > now && !state.handed_off && this.store.awaitingReply();
    const typing = this.remoteTyping > now;
    if (typing) this.later("typing", this.remoteTyping - now + 50, () => this.renderTyping());
    show(this.typing, (waiting || typing) && !state.closed);
  }

  private renderState(): void {
    const t = this.t;
    const state = this.store.state;
    let banner = "";
    if (!state.closed && state.agent) banner = fill(t.agent, { agent: state.agent });
    else if (!state.closed && state.handed_off) {
      // queue_position is the 1-based place in the queue: 1 = next, N = N - 1 customers ahead.
      const place = state.queue_position;
      banner = place === null || place === undefined ? t.transferring : place > 1 ? fill(t.queue, { n: place - 1 }) : t.queueNext;
    }
    setText(this.banner, banner);
    show(this.banner, banner !== "");

    const csat = state.csat_requested && !!this.saved && (!this.saved.csatDone || this.csatThanks);
    show(this.csat, csat);
    if (state.closed && !this.ended.firstChild) {
      const again = h("button", { type: "button", class: "kefu-wc-primary", "data-testid": "kefu-wc-new-chat" }, t.newChat);
      again.addEventListener("click", () => {
        this.forget();
        this.ensureSession().then(() => this.input.focus());
      });
      this.ended.append(h("p", {}, t.closed), again);
    } else if (!state.closed) fillWith(this.ended);
    show(this.ended, state.closed);
    show(this.composer, !state.closed);
  }

  private renderComposer(): void {
    const length = textLength(this.input.value);
    setText(this.counter, `${length}/${MAX_TEXT}`);
    this.counter.setAttribute("aria-label", fill(this.t.counter, { n: length, max: MAX_TEXT }));
    this.counter.classList.toggle("kefu-wc-counter-over", length > MAX_TEXT);
    this.sendButton.disabled = length > MAX_TEXT || this.input.value.trim() === "";
    if (length > MAX_TEXT) this.setError(this.t.tooLong);
  }

  private setError(text: string): void {
    setText(this.error, text);
  }

  private setNotice(kind: "connection" | "session", text: string): void {
    this.notices[kind] = text;
    const shown = this.notices.session || this.notices.connection;
    setText(this.notice, shown);
    show(this.notice, shown !== "");
  }

  private addSystemNote(text: string): void {
    this.store.addNote(text);
    this.render();
  }

  private scrollToEnd(): void {
    if (this.isOpen) this.log.scrollTop = this.log.scrollHeight;
  }

  private later(name: string, ms: number, run: () => void): void {
    clearTimeout(this.timers[name]);
    this.timers[name] = setTimeout(run, ms);
  }

  private adoptStyles(): void {
    // A constructed sheet is not an inline <style>, so a strict style-src CSP does not block it.
    try {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      (this.root as ShadowRoot & { adoptedStyleSheets: CSSStyleSheet[] }).adoptedStyleSheets = [sheet];
    } catch {
      this.root.append(h("style", {}, CSS));
    }
  }
}

function clock(iso: string): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}
