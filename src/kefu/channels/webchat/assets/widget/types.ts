// The web chat contract (docs/channels/webchat.md), as the widget sees it.

export type Direction = "in" | "out";
export type Sender = "customer" | "bot" | "agent" | "system";

export interface Card {
  title: string;
  body: string;
  url: string | null;
}

export interface Message {
  seq: number;
  direction: Direction;
  sender: Sender;
  text: string;
  card: Card | null;
  quick_replies: string[];
  created_at: string;
}

export interface State {
  handed_off: boolean;
  queue_position: number | null;
  agent: string | null;
  closed: boolean;
  csat_requested: boolean;
  read_upto: number;
}

export interface SessionReply {
  session: string;
  token: string;
  expires_in: number;
  signed_in: boolean;
  greeting: string;
  quick_replies: string[];
}

/** A cross-selling banner the app chose for this visit (its text is shown as text). */
export interface Offer {
  id: string;
  text: string;
  disclosure: string;
}

export interface Typing {
  sender: "agent" | "bot";
  typing: boolean;
}

export const MAX_TEXT = 2000;
