// Replies reach the widget by Server-Sent Events; when EventSource is missing or fails three
// times in a row, by polling every two seconds. Both resume after the last seq received (the
// browser's Last-Event-ID on its own reconnects, `after=` on ours), and the store drops repeats.
// While polling after failures, the stream is tried again now and then (quietly), so that a
// kefu restart does not leave every open widget polling for good.

import { Api, ApiError, type Credentials } from "./api";
import type { Message, State, Typing } from "./types";

export interface Handlers {
  message(message: Message): void;
  state(state: State): void;
  typing(typing: Typing): void;
  /** false while the connection is lost, true once it is back. */
  online(ok: boolean): void;
  /** The session token is no longer accepted (401): start a new session. */
  unauthorized(): void;
}

const POLL_MS = 2000;
const MAX_SSE_FAILURES = 3;
export const PROBE_EVERY_MS = 30000;

export class Transport {
  private source: EventSource | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;
  private readonly canStream: boolean;
  private probeAt = 0;
  mode: "sse" | "polling" = "sse";

  constructor(
    private readonly api: Api,
    private readonly credentials: Credentials,
    private readonly lastSeq: () => number,
    private readonly on: Handlers,
    polling = false,
  ) {
    this.canStream = !polling && typeof EventSource !== "undefined";
    if (!this.canStream) this.mode = "polling";
  }

  start(): void {
    if (this.mode === "sse") this.connect(false);
    else this.schedulePoll(0);
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    this.clearTimer();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** probe: a quiet try while polling; it takes over on open and is dropped on error. */
  private connect(probe: boolean): void {
    if (this.stopped) return;
    const source = new EventSource(this.api.eventsUrl(this.credentials, this.lastSeq()));
    this.source = source;
    const parse = (event: Event) => {
      try {
        return JSON.parse((event as MessageEvent).data);
      } catch {
        return null;
      }
    };
    source.onopen = () => {
      if (source !== this.source) return;
      if (this.mode === "polling") {
        this.mode = "sse"; // the stream is back: polling stops
        this.clearTimer();
      }
      this.failures = 0;
      this.on.online(true);
    };
    source.addEventListener("message", (event) => {
      const data = parse(event);
      if (data) this.on.message(data);
    });
    source.addEventListener("state", (event) => {
      const data = parse(event);
      if (data) this.on.state(data);
    });
    source.addEventListener("typing", (event) => {
      const data = parse(event);
      if (data) this.on.typing(data);
    });
    source.onerror = () => {
      if (this.stopped || source !== this.source) return;
      if (probe && this.mode === "polling") {
        source.close();
        this.source = null;
        this.probeAt = Date.now() + PROBE_EVERY_MS;
        return;
      }
      this.failures += 1;
      this.on.online(false);
      if (this.failures >= MAX_SSE_FAILURES) {
        source.close();
        this.source = null;
        this.mode = "polling";
        this.probeAt = Date.now() + PROBE_EVERY_MS;
        this.schedulePoll(0);
      } else if (source.readyState === EventSource.CLOSED) {
        // Refused outright (an error status): ask the polling endpoint why, then retry.
        this.source = null;
        this.api.messages(this.credentials, this.lastSeq()).then(
          (page) => this.deliver(page),
          (error) => {
            if (error instanceof ApiError && error.status === 401) this.on.unauthorized();
          },
        );
        this.timer = setTimeout(() => this.connect(false), 1000 * this.failures);
      }
      // Otherwise the browser reconnects by itself, sending Last-Event-ID.
    };
  }

  private schedulePoll(delay: number): void {
    if (this.stopped) return;
    this.clearTimer();
    this.timer = setTimeout(() => this.poll(), delay);
  }

  private poll(): void {
    if (this.stopped || this.mode !== "polling") return;
    this.api.messages(this.credentials, this.lastSeq()).then(
      (page) => {
        if (this.mode !== "polling") return; // the stream took over meanwhile
        this.on.online(true);
        this.deliver(page);
        if (this.canStream && !this.source && Date.now() >= this.probeAt) this.connect(true);
        this.schedulePoll(POLL_MS);
      },
      (error) => {
        if (this.mode !== "polling") return;
        if (error instanceof ApiError && error.status === 401) {
          this.on.unauthorized();
          return;
        }
        if (!(error instanceof ApiError) || error.status === 0 || error.status >= 500) this.on.online(false);
        const wait = error instanceof ApiError && error.retryAfter ? error.retryAfter * 1000 : POLL_MS;
        this.schedulePoll(wait);
      },
    );
  }

  private deliver(page: { messages: Message[]; state: State }): void {
    if (this.stopped) return;
    for (const message of page.messages || []) this.on.message(message);
    if (page.state) this.on.state(page.state);
  }
}
