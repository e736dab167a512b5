// HTTP calls of the web chat contract. Errors are RFC 9457 problem+json; a failed fetch (no
// answer at all) is status 0 so that callers can retry it with the same client_id.

import type { Message, Offer, SessionReply, State } from "./types";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly retryAfter: number | null = null,
  ) {
    super(detail || `HTTP ${status}`);
  }
}

export interface Credentials {
  session: string;
  token: string;
}

export class Api {
  /** base: "<origin>/channels/webchat/<site>" */
  constructor(readonly base: string) {}

  private async call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (token) headers.Authorization = `Bearer ${token}`;
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (error) {
      throw new ApiError(0, String(error));
    }
    if (!response.ok) {
      let detail = "";
      try {
        const problem = await response.json();
        detail = String(problem.detail || problem.title || "");
      } catch {
        // not problem+json (a proxy's page): the status says enough
      }
      const retry = Number(response.headers.get("Retry-After"));
      throw new ApiError(response.status, detail, Number.isFinite(retry) && retry > 0 ? retry : null);
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  start(customerToken: string, locale: string): Promise<SessionReply> {
    const body: Record<string, string> = { locale };
    if (customerToken) body.customer_token = customerToken;
    return this.call("POST", "/sessions", body);
  }

  send(c: Credentials, text: string, clientId: string): Promise<{ seq: number; duplicate: boolean }> {
    return this.call("POST", `/sessions/${enc(c.session)}/messages`, { text, client_id: clientId }, c.token);
  }

  messages(c: Credentials, after: number): Promise<{ messages: Message[]; state: State }> {
    return this.call("GET", `/sessions/${enc(c.session)}/messages?after=${after}`, undefined, c.token);
  }

  csat(c: Credentials, score: number, comment: string): Promise<void> {
    return this.call("POST", `/sessions/${enc(c.session)}/csat`, { score, comment }, c.token);
  }

  typing(c: Credentials, typing: boolean): Promise<void> {
    return this.call("POST", `/sessions/${enc(c.session)}/typing`, { typing }, c.token);
  }

  /** The offer banner for this visit (recorded as shown by the server), or null. */
  offer(c: Credentials): Promise<{ offer: Offer | null }> {
    return this.call("POST", `/sessions/${enc(c.session)}/offer`, {}, c.token);
  }

  answerOffer(c: Credentials, id: string, action: "click" | "dismiss"): Promise<void> {
    return this.call("POST", `/sessions/${enc(c.session)}/offer/${enc(id)}`, { action }, c.token);
  }

  eventsUrl(c: Credentials, after: number): string {
    return `${this.base}/sessions/${enc(c.session)}/events?token=${enc(c.token)}&after=${after}`;
  }
}

function enc(value: string): string {
  return encodeURIComponent(value);
}

/** A v4 UUID for client_id (crypto.randomUUID needs a secure context; this does not). */
export function uuid(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => (b + 0x100).toString(16).slice(1)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
