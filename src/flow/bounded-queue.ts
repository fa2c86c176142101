/**
 * Runs at most `threads` calls of `run` at once and holds at most `memory`
 * bytes of items waiting to start: Iris's thread and memory limits.
 *
 * An item that can start at once is never queued. One that would take the
 * queued bytes past `memory` is refused (`offer` returns false), so the bytes
 * held never exceed the limit.
 */
export class BoundedQueue<T> {
  #running = 0;
  #queuedBytes = 0;
  #peakQueuedBytes = 0;
  #items: Array<{ item: T; size: number } | undefined> = [];
  #head = 0;
  #pumping = false;
  #closed = false;
  #idle: Array<() => void> = [];

  constructor(
    readonly threads: number,
    readonly memory: number,
    private readonly run: (item: T) => unknown,
    private readonly onError: (err: unknown) => void,
    /**
     * Called on an item when it is queued rather than started: a chance to
     * copy what it borrows (bytes viewing a socket buffer), so that the
     * queued bytes counted are the bytes held.
     */
    private readonly hold: (item: T) => T = (item) => item,
    /** Called after each handler call ends (a thread is free, and maybe queued bytes). */
    private readonly after?: () => void,
  ) {}

  /** Handler calls running now. */
  get running(): number {
    return this.#running;
  }
  /** Bytes of items waiting to start. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }
  /** Items waiting to start. */
  get queued(): number {
    return this.#items.length - this.#head;
  }
  /** The most bytes ever waiting at once. */
  get peakQueuedBytes(): number {
    return this.#peakQueuedBytes;
  }

  /** Whether an item of `size` bytes would be accepted now. */
  fits(size: number): boolean {
    if (this.#closed) return false;
    if (this.#running < this.threads && this.queued === 0) return true;
    return this.#queuedBytes + size <= this.memory;
  }

  /**
   * Starts or queues `item`; false when it does not fit (or the queue is
   * closed). `force` queues it even past `memory`, for callers that bound
   * what they offer themselves (a pull sized to the room left).
   */
  offer(item: T, size: number, force = false): boolean {
    if (force ? this.#closed : !this.fits(size)) return false;
    if (this.#running < this.threads && this.queued === 0) {
      this.#start(item);
      return true;
    }
    this.#items.push({ item: this.hold(item), size });
    this.#queuedBytes += size;
    if (this.#queuedBytes > this.#peakQueuedBytes) this.#peakQueuedBytes = this.#queuedBytes;
    return true;
  }

  /** Refuses new items from now on; queued ones still run unless taken with `takeQueued`. */
  close(): void {
    this.#closed = true;
  }

  /** Removes and returns the items still waiting to start. */
  takeQueued(): T[] {
    const out: T[] = [];
    this.forEachQueued((item) => out.push(item));
    this.#items = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#settle();
    return out;
  }

  /** Calls `fn` on each item waiting to start, as held (left in place). */
  forEachQueued(fn: (item: T) => void): void {
    for (let i = this.#head; i < this.#items.length; i++) {
      const entry = this.#items[i];
      if (entry) fn(entry.item);
    }
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.#running === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #start(item: T): void {
    this.#running++;
    let result: unknown;
    try {
      result = this.run(item);
    } catch (err) {
      this.#finish(err);
      return;
    }
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      (result as PromiseLike<unknown>).then(
        () => this.#finish(),
        (err: unknown) => this.#finish(err),
      );
    } else {
      this.#finish();
    }
  }

  #finish(err?: unknown): void {
    this.#running--;
    try {
      if (err !== undefined) this.onError(err);
    } catch {
      // a failing error reporter must not stop the queue
    }
    this.#pump();
    this.after?.();
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    while (this.#running < this.threads && this.#head < this.#items.length) {
      const entry = this.#items[this.#head];
      this.#items[this.#head++] = undefined;
      if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
      if (!entry) continue;
      this.#queuedBytes -= entry.size;
      this.#start(entry.item);
    }
    this.#pumping = false;
    this.#settle();
  }

  #settle(): void {
    if (this.#running !== 0 || this.queued !== 0 || this.#idle.length === 0) return;
    const waiters = this.#idle;
    this.#idle = [];
    for (const resolve of waiters) resolve();
  }
}
