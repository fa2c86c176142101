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

/** Told of each refused publish whose subject `matches`. */
interface Watcher {
  matches(subject: string): boolean;
  denied(violation: Error, subject: string): void;
}

export class Denials {
  readonly #watchers = new Set<Watcher>();
  readonly #status: QueuedIterator<Status>;

  constructor(
    nc: NatsConnection,
    private readonly logger: Logger,
  ) {
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

  /** Stops watching (the connection is closing). */
  stop(): void {
    this.#watchers.clear();
    this.#status.stop();
  }

  #refused(violation: InstanceType<typeof errors.PermissionViolationError>): void {
    if (violation.operation !== "publish") return;
    const subject = violation.subject;
    this.logger.debug({ subject }, "the server refused a publish");
    for (const w of [...this.#watchers]) {
      try {
        if (w.matches(subject)) w.denied(violation, subject);
      } catch (error) {
        this.logger.warn({ subject, err: error }, "a refused publish could not be handled");
      }
    }
  }
}
