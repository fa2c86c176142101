import type { Runtime } from "../core/index.js";
import { fromNatsError, type JetmeshError } from "../errors/index.js";

/**
 * The end of one of a member's subscriptions: the NATS client ends a
 * subscription the server refused (the user may not subscribe there) and
 * tells its callback. Kept so that registering fails with it, named, instead
 * of a member that silently gets nothing.
 */
export class Refusal {
  error: JetmeshError | undefined;
  /** Told of a refusal once the member has registered (its permissions changed since). */
  whenRefused: ((err: JetmeshError) => void) | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly cluster: string,
    /** What the subscription took: "requests", "broadcasts", ... */
    private readonly what: string,
  ) {}

  /** The subscription ended with `err`. */
  note(err: Error): void {
    this.error ??= fromNatsError(err, `${this.what} of cluster "${this.cluster}"`);
    this.rt.logger.error({ cluster: this.cluster, err: this.error }, `the member no longer gets ${this.what}`);
    this.whenRefused?.(this.error);
  }
}
