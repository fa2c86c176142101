/**
 * Publishes the server refused. NATS answers a publish the user has no
 * permission for with an asynchronous `-ERR` naming only the subject, and the
 * client tells nobody but its status stream; without this, a denied request
 * or acknowledged publish would wait for its time-out, and a denied pull or
 * ack would go unnoticed. Each part that publishes watches the subjects it
 * owns and fails what it had in flight, at once, with a `PermissionError`.
 */
import { errors, type NatsConnection, type QueuedIterator, type Status } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import { ThrottledWarning } from "../logging/index.js";

/** How long a refused subject is remembered, in ms: a publish to it meanwhile fails at once. */
const REMEMBER_MS = 5_000;
/** At most this many refused subjects are remembered. */
const REMEMBER_MAX = 1_000;

/** Told of each refused publish whose subject `matches`. */
interface Watcher {
  matches(subject: string): boolean;
  denied(violation: Error, subject: string): void;
}

export class Denials {
  readonly #watchers = new Set<Watcher>();
  readonly #status: QueuedIterator<Status>;
  /** Subjects refused lately, with when, and the client's error. */
  readonly #recent = new Map<string, { at: number; violation: Error }>();
  readonly #unclaimed: ThrottledWarning;

  constructor(
    nc: NatsConnection,
    private readonly logger: Logger,
  ) {
    this.#unclaimed = new ThrottledWarning(logger, "the server refused a publish: this user has no permission for it");
    const status = nc.status() as QueuedIterator<Status>;
    this.#status = status;
    (async () => {
      for await (const s of status) {
        if (s.type === "error" && s.error instanceof errors.PermissionViolationError) this.#refused(s.error);
      }
    })().catch((err: unknown) => logger.debug({ err }, "permission watch ended"));
  }

  /**
   * Calls `denied` with the client's error for each refused publish to a
   * subject `matches` accepts (`fromNatsError` makes it a `PermissionError`),
   * until the returned function is called.
   */
  watch(matches: (subject: string) => boolean, denied: (violation: Error, subject: string) => void): () => void {
    const w: Watcher = { matches, denied };
    this.#watchers.add(w);
    return () => this.#watchers.delete(w);
  }

  /**
   * The client's error for `subject` when a publish to it was refused within
   * the last few seconds: a fire-and-forget publish (a broadcast) learns of a
   * refusal only after it resolved, so the next ones fail at once instead.
   */
  recent(subject: string): Error | undefined {
    if (this.#recent.size === 0) return undefined;
    const r = this.#recent.get(subject);
    if (r === undefined) return undefined;
    if (performance.now() - r.at <= REMEMBER_MS) return r.violation;
    this.#recent.delete(subject);
    return undefined;
  }

  /** Stops watching (the connection is closing). */
  stop(): void {
    this.#watchers.clear();
    this.#status.stop();
  }

  #refused(violation: InstanceType<typeof errors.PermissionViolationError>): void {
    if (violation.operation !== "publish") return;
    const subject = violation.subject;
    this.#recent.delete(subject);
    if (this.#recent.size >= REMEMBER_MAX) this.#recent.delete(this.#recent.keys().next().value as string);
    this.#recent.set(subject, { at: performance.now(), violation });
    let claimed = false;
    for (const w of [...this.#watchers]) {
      try {
        if (w.matches(subject)) {
          claimed = true;
          w.denied(violation, subject);
        }
      } catch (error) {
        this.logger.warn({ subject, err: error }, "a refused publish could not be handled");
      }
    }
    // nothing was waiting for it (a broadcast, a reply): say so, or it is lost silently
    if (!claimed) this.#unclaimed.note({ subject });
  }
}
