/**
 * Time-outs of many calls with one timer, for an owner that keeps its live
 * calls itself (a correlator's map of pending calls): settling a call costs
 * nothing here. Done for speed: {@link Deadlines} removes each key as its
 * call settles (four map operations per call); this runs for every request
 * and acknowledged publish, so it only appends.
 *
 * Keys are kept in one first-in, first-out list per distinct time-out, so the
 * head of each list is the next to expire; a single timer is armed for the
 * earliest head. `isLive` tells a settled key from a live one: settled keys
 * are dropped when they reach a head, and in one pass over a list once they
 * outnumber the live ones there, so what is kept stays within about twice
 * the calls in flight.
 */

/** The keys of one time-out, oldest first, with when each expires. */
interface ExpiryList<K> {
  readonly timeout: number;
  keys: K[];
  ats: number[];
  /** Where the list starts in `keys` and `ats` (what is before it was dropped). */
  head: number;
}

/** A list holding more settled keys than this beyond twice the calls in flight is cleaned in one pass. */
const SLACK = 1024;

export class DeadlineQueue<K> {
  readonly #lists = new Map<number, ExpiryList<K>>();
  /** The list of the time-out used last: nearly every call has the connection's default. */
  #last: ExpiryList<K> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Number.POSITIVE_INFINITY;
  /** Whether the timer keeps the process alive (only while calls are in flight). */
  #refed = false;

  constructor(
    /** Called at a live key's time-out (once, and never for a settled one). */
    private readonly onExpire: (key: K) => void,
    /** Whether `key`'s call is still waiting. */
    private readonly isLive: (key: K) => boolean,
    /** How many calls are waiting. */
    private readonly liveCount: () => number,
  ) {}

  /** Keys kept, live or settled. */
  get size(): number {
    let n = 0;
    for (const list of this.#lists.values()) n += list.keys.length - list.head;
    return n;
  }

  /** Calls onExpire(key) after `timeout` ms, unless its call has settled by then. */
  add(key: K, timeout: number): void {
    let list = this.#last;
    if (list === undefined || list.timeout !== timeout) list = this.#listOf(timeout);
    const at = performance.now() + timeout;
    list.keys.push(key);
    list.ats.push(at);
    if (list.keys.length - list.head > 2 * this.liveCount() + SLACK) this.#clean(list);
    if (at < this.#armedFor) this.#arm(at);
    else if (!this.#refed) this.#ref(true);
  }

  /**
   * Nothing is waiting any more: every key kept is dropped, and the timer
   * (left armed, to save arming one per call when calls come one at a time)
   * no longer keeps the process alive.
   */
  idle(): void {
    const last = this.#last;
    if (last !== undefined && this.#lists.size === 1) {
      last.keys.length = 0;
      last.ats.length = 0;
      last.head = 0;
    } else {
      this.#lists.clear();
      this.#last = undefined;
    }
    if (this.#refed) this.#ref(false);
  }

  /** Stops the timer for good (the owner is closing). */
  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    this.#lists.clear();
    this.#last = undefined;
  }

  #listOf(timeout: number): ExpiryList<K> {
    let list = this.#lists.get(timeout);
    if (list === undefined) {
      list = { timeout, keys: [], ats: [], head: 0 };
      this.#lists.set(timeout, list);
    }
    this.#last = list;
    return list;
  }

  /** Keeps only the live keys of `list`, in order. */
  #clean(list: ExpiryList<K>): void {
    const keys: K[] = [];
    const ats: number[] = [];
    for (let i = list.head; i < list.keys.length; i++) {
      const key = list.keys[i] as K;
      if (this.isLive(key)) {
        keys.push(key);
        ats.push(list.ats[i] as number);
      }
    }
    list.keys = keys;
    list.ats = ats;
    list.head = 0;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
    this.#refed = true;
  }

  #ref(on: boolean): void {
    this.#refed = on;
    if (on) this.#timer?.ref();
    else this.#timer?.unref();
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    this.#refed = false;
    const now = performance.now();
    const expired: K[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const list of this.#lists.values()) {
      const { keys, ats } = list;
      let i = list.head;
      for (; i < keys.length; i++) {
        const key = keys[i] as K;
        // a settled key at the head is dropped whenever it is seen, so the timer is armed for a live one
        if (!this.isLive(key)) continue;
        const at = ats[i] as number;
        if (at > now) {
          if (at < next) next = at;
          break;
        }
        expired.push(key);
      }
      list.head = i;
      if (i === keys.length) this.#drop(list);
      else if (i > SLACK && i * 2 > keys.length) {
        list.keys = keys.slice(i);
        list.ats = ats.slice(i);
        list.head = 0;
      }
    }
    // an expiry may settle others: each is checked again
    for (const key of expired) if (this.isLive(key)) this.onExpire(key);
    // nothing left waiting: no timer (idle() has dropped what was kept)
    if (next !== Number.POSITIVE_INFINITY && next < this.#armedFor && this.liveCount() > 0) this.#arm(next);
  }

  /** `list` has nothing left: forgotten. */
  #drop(list: ExpiryList<K>): void {
    this.#lists.delete(list.timeout);
    if (this.#last === list) this.#last = undefined;
  }
}
