/** The ack subject of a JetStream delivery: which consumer, which delivery, which stream sequence, when. */

/** What an ack subject says of its delivery. */
export interface AckSubject {
  consumer: string;
  /** How often it was delivered (1 the first time). */
  deliveries: number;
  /** The stream sequence. */
  seq: number;
  /** The consumer's delivery sequence. */
  dseq: number;
  /** Publish time, ns since the epoch. */
  timestamp: string;
}

/** A publish time in ns since the epoch. */
const TIMESTAMP = /^[0-9]{1,20}$/;

/** Dot positions of the ack subject being parsed (parsing is synchronous, so one array serves all). */
const DOTS = new Int32Array(12);

function digits(s: string, from: number, to: number): number {
  if (from >= to || to - from > 15) return Number.NaN;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return Number.NaN;
    n = n * 10 + c;
  }
  return n;
}

/**
 * Parses `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
 * (and the longer form with domain and account hash), on every delivery, so
 * without splitting it into strings.
 */
export function parseAckSubject(reply: string): AckSubject | undefined {
  if (!reply.startsWith("$JS.ACK.")) return undefined;
  let n = 0;
  for (let i = reply.indexOf("."); i !== -1 && n < DOTS.length; i = reply.indexOf(".", i + 1)) DOTS[n++] = i;
  const tokens = n + 1;
  const o = tokens === 9 ? 2 : tokens >= 11 ? 4 : -1;
  if (o < 0) return undefined;
  // token k runs from DOTS[k-1]+1 to DOTS[k]
  const start = (k: number) => (DOTS[k - 1] ?? -1) + 1;
  const end = (k: number) => (k < n ? (DOTS[k] ?? reply.length) : reply.length);
  const deliveries = digits(reply, start(o + 2), end(o + 2));
  const seq = digits(reply, start(o + 3), end(o + 3));
  const dseq = digits(reply, start(o + 4), end(o + 4));
  if (!(deliveries >= 1 && seq >= 1 && dseq >= 1) || end(o + 1) <= start(o + 1)) return undefined;
  const timestamp = reply.slice(start(o + 5), end(o + 5));
  if (!TIMESTAMP.test(timestamp)) return undefined;
  return { consumer: reply.slice(start(o + 1), end(o + 1)), deliveries, seq, dseq, timestamp };
}
