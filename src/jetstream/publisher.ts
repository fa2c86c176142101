/**
 * Acknowledged publishes, pipelined: each event goes out as a plain publish
 * with a reply subject on the connection's shared inbox, and JetStream's ack is
 * matched to it there, so any number can be in flight without waiting for one
 * another. Each carries a `Nats-Msg-Id`, so that sending it again (after a
 * reconnect, when its ack may have been lost) stores it once.
 */
import type { Msg, MsgHdrs } from "@nats-io/nats-core";
import { nuid } from "@nats-io/nats-core";
import type { PublishAck } from "../api/index.js";
import { Correlator, type Pending, type Wiring } from "../core/index.js";
import {
  ConfigurationError,
  fromNatsError,
  type JetmeshError,
  OverloadedError,
  PayloadTooLargeError,
  PermissionError,
  RemoteError,
  TimeoutError,
} from "../errors/index.js";
import { HEADER, NO_RESPONDERS_STATUS } from "../wire/index.js";
import type { ManagedStream } from "./managed-stream.js";

/** JetStream API error codes of a refused publish. */
const STORE_FAILED = 10077;
const MESSAGE_TOO_LARGE = 10054;

/**
 * The status (or ack error code) of a server that has too many publishes in
 * flight (nats-server 2.11 and later): the event was not stored, and is sent
 * again after a pause, within the publish's time-out.
 */
const TOO_MANY_REQUESTS = 429;

/** Waits between tries while no stream answers (JetStream restarting), or it is too busy, in ms. */
const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 1_000;

const encoder = new TextEncoder();
const END_OF_HEADERS = encoder.encode("\r\n\r\n");
/** A counter in base 36 takes at most this many characters (2^53). */
const MAX_COUNTER_CHARS = 11;

/** Characters of the random part of a publisher's ids (62^12, about 2^71). */
const ID_PREFIX_CHARS = 12;
const BASE36 = encoder.encode("0123456789abcdefghijklmnopqrstuvwxyz");

/**
 * The `Nats-Msg-Id` headers of one publisher's events, encoded straight to
 * bytes: a random prefix and a counter. The NATS client only calls `encode()`
 * on the headers it publishes, synchronously, so one object serves every
 * publish (its bytes set just before), instead of a header map per event.
 */
class MsgIds {
  readonly #head = encoder.encode(`NATS/1.0\r\n${HEADER.msgId}: ${nuid.next().slice(-ID_PREFIX_CHARS)}`);
  readonly #digits = new Uint8Array(MAX_COUNTER_CHARS);
  #n = 0;
  #bytes: Uint8Array = EMPTY;
  /** The headers handed to the client: they encode to the bytes last set with `use`. */
  readonly headers = { encode: () => this.#bytes } as unknown as MsgHdrs;

  /** The encoded headers of the next event. */
  next(): Uint8Array {
    let n = this.#n++;
    let count = 0;
    do {
      this.#digits[count++] = BASE36[n % 36] ?? 0;
      n = Math.floor(n / 36);
    } while (n > 0);
    const head = this.#head;
    const bytes = new Uint8Array(head.length + count + END_OF_HEADERS.length);
    bytes.set(head);
    for (let i = 0; i < count; i++) bytes[head.length + i] = this.#digits[count - 1 - i] ?? 0;
    bytes.set(END_OF_HEADERS, head.length + count);
    return bytes;
  }

  /** Makes `headers` encode to `bytes` (for the publish about to be sent). */
  use(bytes: Uint8Array): MsgHdrs {
    this.#bytes = bytes;
    return this.headers;
  }
}

const EMPTY = new Uint8Array(0);

/** The most bytes the `Nats-Msg-Id` header adds to an event. */
export const PUBLISH_HEADER_BYTES =
  encoder.encode(`NATS/1.0\r\n${HEADER.msgId}: `).length + ID_PREFIX_CHARS + MAX_COUNTER_CHARS + END_OF_HEADERS.length;

interface PendingPublish extends Pending {
  resolve(ack: PublishAck): void;
  /** What is published to, for messages: a topic or tunnel name. */
  target: string;
  subject: string;
  payload: Uint8Array;
  /** The encoded headers (a `Nats-Msg-Id`, by default; null: none), kept to send the event again as it was. */
  header: Uint8Array | null;
  tries: number;
  retry: ReturnType<typeof setTimeout> | undefined;
  /** When it was last sent (`performance.now()`), and how often {@link Publisher.resendOlderThan} sent it again. */
  sentAt: number;
  resends: number;
}

interface AckBody {
  seq?: unknown;
  duplicate?: unknown;
  error?: { code?: number; err_code?: number; description?: string };
}

export class Publisher extends Correlator<PendingPublish> {
  readonly #ids = new MsgIds();

  /**
   * Publishes into `stream` (checked again when no stream answers); `noun`
   * names what is published to, in messages: "topic" or "tunnel".
   */
  constructor(
    rt: Wiring,
    readonly stream: ManagedStream,
    readonly noun: "topic" | "tunnel",
  ) {
    super(rt);
  }

  /**
   * Publishes and resolves with JetStream's ack. `header` is the encoded
   * NATS header block to send, `null` for none; without one, a fresh
   * `Nats-Msg-Id` header.
   */
  publish(
    subject: string,
    target: string,
    payload: Uint8Array,
    timeout: number,
    signal: AbortSignal | undefined,
    header?: Uint8Array | null,
  ) {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<PublishAck>((resolve, reject) => {
      const p: PendingPublish = {
        resolve,
        reject,
        target,
        subject,
        payload,
        header: header === undefined ? this.#ids.next() : header,
        timeout,
        signal,
        onAbort: undefined,
        tries: 0,
        retry: undefined,
        sentAt: 0,
        resends: 0,
      };
      const id = this.track(p);
      if (this.stream.ready) this.#send(id, p);
      else this.#whenStream(id, p);
    });
  }

  /** Sends every publish still waiting for its ack again (after a reconnect its ack may be lost). */
  resendAll(): void {
    for (const [id, p] of this.pending) {
      if (p.retry === undefined) this.#send(id, p);
    }
  }

  /**
   * Sends again every publish sent more than `ms` ago and still waiting for
   * its ack (a stream leader that died may have lost it); each time it is
   * sent again it waits twice as long, up to 4 `ms`, so a connection that
   * stalls does not fill with copies. Only for messages whose receiver drops
   * copies: sent without a `Nats-Msg-Id`, a copy is stored again.
   */
  resendOlderThan(ms: number): void {
    const now = performance.now();
    for (const [id, p] of this.pending) {
      if (p.retry !== undefined || now - p.sentAt < ms * 2 ** Math.min(p.resends, 2)) continue;
      p.resends++;
      this.#send(id, p);
    }
  }

  protected describe(p: PendingPublish): string {
    return `publish to ${this.noun} "${p.target}"`;
  }

  protected timedOut(p: PendingPublish): JetmeshError {
    return new TimeoutError(`publish to ${this.noun} "${p.target}" was not acknowledged within ${p.timeout} ms`);
  }

  protected override settle(id: string): PendingPublish | undefined {
    const p = super.settle(id);
    if (p?.retry !== undefined) clearTimeout(p.retry);
    return p;
  }

  protected onReply(id: string, p: PendingPublish, msg: Msg): void {
    let code = 0;
    try {
      code = msg.headers?.code ?? 0;
    } catch {
      // malformed headers: read as no status
    }
    if (code === NO_RESPONDERS_STATUS) {
      // no stream took it: JetStream is (re)starting or the stream is gone
      this.stream.recheck();
      this.#whenStream(id, p);
      return;
    }
    if (code === TOO_MANY_REQUESTS) {
      this.#sendLater(id, p);
      return;
    }
    const ack = fastAck(msg.data);
    if (ack !== undefined) {
      this.settle(id);
      p.resolve(ack);
      return;
    }
    let body: AckBody;
    try {
      body = msg.json<AckBody>();
    } catch (cause) {
      this.settle(id);
      this.logger.warn({ [this.noun]: p.target, err: cause }, "malformed publish ack");
      p.reject(
        new RemoteError(`publish to ${this.noun} "${p.target}": JetStream's ack could not be read`, "BAD_REPLY"),
      );
      return;
    }
    if (body.error?.code === TOO_MANY_REQUESTS) {
      this.#sendLater(id, p);
      return;
    }
    this.settle(id);
    if (body.error) p.reject(refusal(`publish to ${this.noun} "${p.target}"`, this.noun, body.error));
    else if (typeof body.seq === "number") p.resolve({ seq: body.seq, duplicate: body.duplicate === true });
    else
      p.reject(new RemoteError(`publish to ${this.noun} "${p.target}": JetStream's ack had no sequence`, "BAD_REPLY"));
  }

  #send(id: string, p: PendingPublish): void {
    try {
      p.sentAt = performance.now();
      const reply = this.prefix + id;
      if (p.header === null) this.nc.publish(p.subject, p.payload, { reply });
      else this.nc.publish(p.subject, p.payload, { reply, headers: this.#ids.use(p.header) });
    } catch (err) {
      this.settle(id)?.reject(fromNatsError(err, `publish to ${this.noun} "${p.target}"`));
    }
  }

  /** The server is too busy: sends the event again after a pause, longer each try (its id makes a copy harmless). */
  #sendLater(id: string, p: PendingPublish): void {
    if (p.retry !== undefined) return;
    this.logger.debug({ [this.noun]: p.target, tries: p.tries }, "JetStream too busy (429); publishing again shortly");
    p.retry = setTimeout(
      () => {
        p.retry = undefined;
        if (this.pending.get(id) === p) this.#send(id, p);
      },
      Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** p.tries++),
    );
  }

  /** Sends once the stream exists: at once if it is known, else after checking, waiting a little more each try. */
  #whenStream(id: string, p: PendingPublish): void {
    const stream = this.stream;
    const attempt = () => {
      p.retry = undefined;
      stream.ensure().then(
        () => {
          if (this.pending.get(id) === p) this.#send(id, p);
        },
        (err: unknown) => {
          if (this.pending.get(id) !== p) return;
          // a set-up problem will not fix itself: say so now, not at the time-out (once the
          // stream has been there, the same answer means JetStream is restarting: wait)
          if ((err instanceof ConfigurationError || err instanceof PermissionError) && !stream.seen) {
            this.settle(id)?.reject(err);
          } else this.#whenStream(id, p);
        },
      );
    };
    if (p.tries++ === 0) attempt();
    else p.retry = setTimeout(attempt, Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** p.tries));
  }
}

function refusal(what: string, noun: string, error: NonNullable<AckBody["error"]>): JetmeshError {
  const desc = error.description ?? "unknown error";
  if (error.err_code === MESSAGE_TOO_LARGE) {
    return new PayloadTooLargeError(`${what}: ${desc} (the ${noun}s stream's max message size)`);
  }
  if (error.err_code === STORE_FAILED && /maximum/i.test(desc)) {
    return new OverloadedError(`${what}: the ${noun}s stream is full and refuses new messages (${desc})`);
  }
  return new RemoteError(`${what}: JetStream refused the event (${desc})`, String(error.err_code ?? error.code ?? ""));
}

const QUOTE = 0x22;
const OPEN = 0x7b;
const SPACE = 0x20;
const SEQ_KEY = encoder.encode('"seq":');
const DUPLICATE_KEY = encoder.encode('"duplicate"');
const DUPLICATE_TRUE = /"duplicate":\s*true/;
const decoder = new TextDecoder();

/**
 * Reads a successful ack (`{"stream":"S", "seq":N}`, maybe with
 * `"duplicate": true`) without building a JSON object; undefined for anything
 * else (an error, another shape), which then takes the JSON path.
 */
export function fastAck(data: Uint8Array): PublishAck | undefined {
  // `{"stream"`: an ack, not an error
  if (data[0] !== OPEN || data[1] !== QUOTE || data[2] !== 0x73 || data[3] !== 0x74) return undefined;
  const at = indexOf(data, SEQ_KEY, 4);
  if (at < 0) return undefined;
  let i = at + SEQ_KEY.length;
  while (data[i] === SPACE) i++;
  let seq = 0;
  const start = i;
  for (let c = data[i]; c !== undefined && c >= 0x30 && c <= 0x39; c = data[++i]) seq = seq * 10 + (c - 0x30);
  if (i === start || i - start > 15) return undefined;
  // "duplicate" only appears on a re-sent event's ack: rare, so a string test is fine
  const duplicate =
    data.length > i + 1 && indexOf(data, DUPLICATE_KEY, i) >= 0 && DUPLICATE_TRUE.test(decoder.decode(data));
  return { seq, duplicate };
}

function indexOf(data: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  outer: for (let i = from; i <= data.length - needle.length; i++) {
    if (data[i] !== first) continue;
    for (let j = 1; j < needle.length; j++) if (data[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
