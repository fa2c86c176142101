/**
 * Time-outs for many operations with one timer. Entries are kept in one
 * insertion-ordered map per distinct time-out, so the head of each map is the
 * next to expire; a single timer is armed for the earliest head. Adding and
 * removing are map operations, cheaper than a timer per operation.
 */
export class Deadlines<K> {
  readonly #buckets = new Map<number, Map<K, number>>();
  readonly #bucketOf = new Map<K, number>();
  readonly #onExpire: (key: K) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onExpire: (key: K) => void) {
    this.#onExpire = onExpire;
  }

  /** Calls onExpire(key) after `timeout` ms unless removed first. */
  add(key: K, timeout: number): void {
    let bucket = this.#buckets.get(timeout);
    if (bucket === undefined) {
      bucket = new Map();
      this.#buckets.set(timeout, bucket);
    }
    const at = performance.now() + timeout;
    bucket.set(key, at);
    this.#bucketOf.set(key, timeout);
    if (at < this.#armedFor) this.#arm(at);
  }

  remove(key: K): void {
    const timeout = this.#bucketOf.get(key);
    if (timeout === undefined) return;
    this.#bucketOf.delete(key);
    const bucket = this.#buckets.get(timeout);
    bucket?.delete(key);
    if (bucket?.size === 0) this.#buckets.delete(timeout);
    if (this.#bucketOf.size === 0) this.#disarm();
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(() => this.#fire(), Math.max(0, at - performance.now()));
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const expired: K[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const bucket of this.#buckets.values()) {
      for (const [key, at] of bucket) {
        if (at > now) {
          if (at < next) next = at;
          break;
        }
        expired.push(key);
      }
    }
    for (const key of expired) {
      this.remove(key);
      this.#onExpire(key);
    }
    if (next !== Number.POSITIVE_INFINITY && next < this.#armedFor) this.#arm(next);
  }
}
