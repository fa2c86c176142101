/**
 * Credit arithmetic of one direction. The reader grants the writer credit in
 * bytes: everything it has released (handed to the application, or copied
 * into the large message being put together) plus its window. The writer
 * may have sent (in frame costs) up to that credit. A grant is absolute, so
 * one lost or repeated grant costs nothing.
 */

/** The writer's side: what it sent, what it may send, and which messages the reader has confirmed. */
export class SendCredit {
  #credit = 0;
  #sent = 0;
  #readerWindow = 0;
  /** The cost offset at which each message not yet confirmed ends, oldest first. */
  readonly #ends: number[] = [];
  #head = 0;

  /** The reader's window, from set-up: credit starts there. */
  start(readerWindow: number): void {
    this.#readerWindow = readerWindow;
    this.#credit = Math.max(this.#credit, readerWindow);
  }

  get sent(): number {
    return this.#sent;
  }

  get credit(): number {
    return this.#credit;
  }

  /** Whether `n` more bytes fit in the credit. */
  fits(n: number): boolean {
    return this.#sent + n <= this.#credit;
  }

  /** Takes `n` bytes of the credit (check {@link fits} first). */
  take(n: number): void {
    this.#sent += n;
  }

  /** A message has gone out whole: it is unconfirmed until the reader has released all of it. */
  messageSent(): void {
    this.#ends.push(this.#sent);
  }

  /**
   * A grant from the reader: "grown" when it lets more out, "stale" when it
   * does not (an older or repeated one), "invalid" when no honest reader
   * could have sent it (it confirms more than was sent).
   */
  grant(value: number): "grown" | "stale" | "invalid" {
    if (!Number.isSafeInteger(value) || value < 0) return "invalid";
    if (value - this.#readerWindow > this.#sent) return "invalid";
    if (value <= this.#credit) return "stale";
    this.#credit = value;
    const confirmed = value - this.#readerWindow;
    while (this.#head < this.#ends.length && (this.#ends[this.#head] ?? 0) <= confirmed) this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#ends.length) {
      this.#ends.splice(0, this.#head);
      this.#head = 0;
    }
    return "grown";
  }

  /** Messages sent whole whose bytes the reader has not said it released. */
  get unconfirmed(): number {
    return this.#ends.length - this.#head;
  }
}

/** The reader's side: what it released, and when a new grant is worth sending. */
export class ReadCredit {
  #released = 0;
  #granted = 0;

  constructor(readonly window: number) {}

  get released(): number {
    return this.#released;
  }

  /** Releases `n` bytes; true when an eighth of the window was released since the last grant. */
  release(n: number): boolean {
    this.#released += n;
    return this.#released - this.#granted >= this.window / 8;
  }

  /** The grant to send now (and remembered as sent). */
  grant(): number {
    this.#granted = this.#released;
    return this.#released + this.window;
  }
}
