/**
 * Drops what a reader has read from the tunnels stream: every half window
 * (or each heartbeat), one purge at a time, so that the stream holds at most
 * half a window read beside the window unread; a purge per grant would cost
 * the server more than the data.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import { permissionRefusal } from "../errors/index.js";
import { FRAME_HEAD, KIND } from "./frame.js";

export class Purger {
  /** Read messages up to this stream sequence were purged. */
  #purgedTo = 0;
  #releasedAtPurge = 0;
  #purging = false;

  constructor(
    private readonly jsm: () => Promise<JetStreamManager>,
    private readonly stream: string,
    private readonly subject: string,
    private readonly window: number,
    /** Told of a purge the server refused (a permission): the stream keeps what was read, until it is full. */
    private readonly refused: (err: Error) => void,
  ) {}

  /** Purges up to stream sequence `upTo` (read) when half a window was released since the last purge, or `force`. */
  maybe(upTo: number, released: number, force: boolean): void {
    if (this.#purging || upTo <= this.#purgedTo) return;
    if (!force && released - this.#releasedAtPurge < this.window / 2) return;
    this.#purging = true;
    this.#purgedTo = upTo;
    this.#releasedAtPurge = released;
    this.jsm()
      .then((jsm) => jsm.streams.purge(this.stream, { filter: this.subject, seq: upTo + 1 }))
      .catch((err: unknown) => {
        // a purge that failed for a passing reason is done again with the next one
        const refusal = permissionRefusal(err, `tunnel purge of "${this.subject}"`);
        if (refusal) this.refused(refusal);
      })
      .finally(() => {
        this.#purging = false;
      });
  }

  /** Whether the last message stored on the subject is the writer's close or its end, and which. */
  async lastFinal(): Promise<"close" | "end" | undefined> {
    const jsm = await this.jsm();
    const last = await jsm.streams.getMessage(this.stream, { last_by_subj: this.subject });
    if (last?.data.byteLength !== FRAME_HEAD) return undefined;
    return last.data[0] === KIND.close ? "close" : last.data[0] === KIND.end ? "end" : undefined;
  }

  /** Drops everything on `subjects` (the tunnel's, as it ends). */
  async purgeAll(subjects: string[]): Promise<void> {
    const jsm = await this.jsm();
    await Promise.all(subjects.map((filter) => jsm.streams.purge(this.stream, { filter })));
  }
}
