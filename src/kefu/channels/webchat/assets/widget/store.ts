// The conversation as the widget holds it: messages ordered by the server's seq, each stored
// once however often it arrives (SSE replay after a reconnect, polling, history), and the
// customer's own messages shown at once as pending until the 202 or their echo gives them a seq.
// Pure: no DOM, no network.

import type { Card, Direction, Message, Sender, State } from "./types";

export type Status = "pending" | "sent" | "failed";

export interface Item {
  key: string;
  seq: number | null;
  clientId: string | null;
  direction: Direction;
  sender: Sender;
  text: string;
  card: Card | null;
  quickReplies: string[];
  createdAt: string;
  status: Status;
  error: string;
  /** A local note (no seq) stays after the message with this seq. */
  after?: number;
}

export const INITIAL_STATE: State = {
  handed_off: false,
  queue_position: null,
  agent: null,
  closed: false,
  csat_requested: false,
  read_upto: 0,
};

export class Store {
  items: Item[] = [];
  state: State = { ...INITIAL_STATE };
  /** Highest seq received: the `after` of the next poll or event stream. */
  lastSeq = 0;

  reset(): void {
    this.items = [];
    this.state = { ...INITIAL_STATE };
    this.lastSeq = 0;
  }

  addPending(clientId: string, text: string, now: string = new Date().toISOString()): Item {
    const item: Item = {
      key: `c:${clientId}`,
      seq: null,
      clientId,
      direction: "in",
      sender: "customer",
      text,
      card: null,
      quickReplies: [],
      createdAt: now,
      status: "pending",
      error: "",
    };
    this.items.push(item);
    return item;
  }

  byClientId(clientId: string): Item | undefined {
    return this.items.find((item) => item.clientId === clientId);
  }

  /** The 202 for a message sent: it now has its seq. An echo that came first and could not be
   *  matched by text (stored as a message of its own) is folded into it; one matched to the
   *  wrong pending message (the same text sent twice, stored in the other order) swaps seqs. */
  confirm(clientId: string, seq: number): void {
    const item = this.byClientId(clientId);
    if (!item || item.seq === seq) return;
    const other = this.items.find((candidate) => candidate !== item && candidate.seq === seq);
    if (other && other.clientId === null) this.items.splice(this.items.indexOf(other), 1);
    else if (other) {
      other.seq = item.seq;
      if (other.seq === null) other.status = "pending";
    }
    item.seq = seq;
    item.status = "sent";
    item.error = "";
    this.lastSeq = Math.max(this.lastSeq, seq);
    this.sort();
  }

  fail(clientId: string, error: string): void {
    const item = this.byClientId(clientId);
    if (item && item.seq === null) {
      item.status = "failed";
      item.error = error;
    }
  }

  retrying(clientId: string): void {
    const item = this.byClientId(clientId);
    if (item && item.seq === null) {
      item.status = "pending";
      item.error = "";
    }
  }

  /** A message from the server (event, poll or history). False when it was already there. */
  receive(message: Message): boolean {
    if (typeof message.seq !== "number") return false;
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    const known = this.items.find((item) => item.seq === message.seq);
    if (known) {
      known.status = "sent";
      return false;
    }
    if (message.direction === "in") {
      // The echo of a message whose 202 has not come back yet: same text, oldest first.
      const pending = this.items.find(
        (item) => item.seq === null && item.clientId !== null && item.text === message.text,
      );
      if (pending) {
        pending.seq = message.seq;
        pending.status = "sent";
        pending.error = "";
        this.sort();
        return false;
      }
    }
    this.items.push({
      key: `s:${message.seq}`,
      seq: message.seq,
      clientId: null,
      direction: message.direction,
      sender: message.sender,
      text: String(message.text ?? ""),
      card: message.card ?? null,
      quickReplies: Array.isArray(message.quick_replies) ? message.quick_replies.map(String) : [],
      createdAt: message.created_at,
      status: "sent",
      error: "",
    });
    this.sort();
    return true;
  }

  /** A notice of the widget's own (not from the server), kept where it was said. */
  addNote(text: string): void {
    this.items.push({
      key: `note:${this.items.length}:${this.lastSeq}`, seq: null, clientId: null, direction: "out", sender: "system",
      text, card: null, quickReplies: [], createdAt: "", status: "sent", error: "", after: this.lastSeq,
    });
    this.sort();
  }

  setState(state: Partial<State>): void {
    this.state = { ...this.state, ...state };
  }

  /** Own messages the bot or the agent has read. */
  isRead(item: Item): boolean {
    return item.direction === "in" && item.seq !== null && item.seq <= this.state.read_upto;
  }

  /** Quick replies to offer: those of the last message when it is the bot's or the agent's. */
  quickReplies(): string[] {
    const last = this.items[this.items.length - 1];
    return last && last.direction === "out" ? last.quickReplies : [];
  }

  /** Waiting for an answer: the last message is the customer's, sent or pending. */
  awaitingReply(): boolean {
    const last = this.items[this.items.length - 1];
    return !!last && last.direction === "in" && last.status !== "failed";
  }

  /** Messages with a seq in seq order, then those still without one in the order sent. */
  private sort(): void {
    const rank = (item: Item) =>
      item.seq !== null ? item.seq : item.after !== undefined ? item.after + 0.5 : Number.MAX_SAFE_INTEGER;
    const order = new Map(this.items.map((item, index) => [item, index]));
    this.items.sort((a, b) => rank(a) - rank(b) || (order.get(a) ?? 0) - (order.get(b) ?? 0));
  }
}

/** A card link only when it is http(s); relative URLs resolve against the kefu origin. */
export function safeUrl(url: string | null | undefined, base: string): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url, base);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}
