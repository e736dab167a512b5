// kefu web chat (在线客服): the widget a bank embeds with one script tag.
//
//   <script src="https://kefu.example/channels/webchat/static/widget.js" data-site="demo"
//           data-locale="zh_CN" data-customer-token="<JWT>" data-api-base="" defer></script>
//
// Configuration comes only from the tag's data-* attributes (no inline script: the page may
// run under a script-src 'self' CSP). window.KefuChat = {open(), close(), signIn(token)}; any
// element with a data-kefu-chat-open attribute opens the chat when clicked.

import { Chat, type Config } from "./widget/chat";

interface KefuChatApi {
  open(): void;
  close(): void;
  signIn(token: string): void;
}

declare global {
  interface Window {
    KefuChat?: KefuChatApi;
  }
}

function findScript(): HTMLScriptElement | null {
  const current = document.currentScript;
  if (current instanceof HTMLScriptElement && current.dataset.site !== undefined) return current;
  return document.querySelector<HTMLScriptElement>("script[data-site][src*='widget']");
}

export function readConfig(script: HTMLScriptElement): Config {
  const data = script.dataset;
  let apiBase = (data.apiBase || "").trim().replace(/\/+$/, "");
  if (!apiBase) {
    // Empty: the origin the widget itself was loaded from.
    apiBase = new URL(script.src || location.href, location.href).origin;
  }
  const accent = (data.accent || "").trim();
  return {
    site: (data.site || "").trim() || "default",
    locale: (data.locale || "zh_CN").trim(),
    customerToken: (data.customerToken || "").trim(),
    apiBase,
    polling: data.transport === "polling",
    accent: accent && typeof CSS !== "undefined" && CSS.supports("color", accent) ? accent : null,
  };
}

function boot(script: HTMLScriptElement): void {
  const chat = new Chat(readConfig(script));
  const start = () => chat.mount(document.body);
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
  // Any element of the page marked data-kefu-chat-open opens the chat (no inline onclick needed).
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-kefu-chat-open]") : null;
    if (target) {
      event.preventDefault();
      chat.open();
    }
  });
  window.KefuChat = {
    open: () => chat.open(),
    close: () => chat.close(),
    signIn: (token: string) => chat.signIn(token),
  };
}

const script = findScript();
if (script && !window.KefuChat) boot(script);
