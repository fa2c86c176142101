/**
 * The topics stream of a namespace: created on first use, checked when it
 * exists, never altered. JetStream errors are mapped to errors naming the fix.
 */
import { JetStreamApiError, type JetStreamManager, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { ConfigurationError, fromNatsError, type JetmeshError } from "../internal/index.js";
import { incompatibilities, type ResolvedTopics, streamConfig } from "./settings.js";

/** JetStream API error codes jetmesh reacts to. */
export const API = {
  streamNotFound: 10059,
  streamNameInUse: 10058,
  subjectsOverlap: 10065,
  insufficientResources: 10023,
  insufficientStorage: 10047,
  notEnabledForAccount: 10039,
  replicasNotSupported: 10074,
  consumerNotFound: 10014,
} as const;

const ENABLE_JETSTREAM =
  "JetStream is not enabled on the NATS server: start it with `nats-server -js` " +
  "(or add a `jetstream {}` block to its configuration)";

/** Whether `err` is JetStream's answer with API error `code`. */
export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Maps an error from a JetStream API call to a jetmesh error. */
export function fromJetStreamError(err: unknown, what: string): JetmeshError {
  if (err instanceof Error && err.name === "JetStreamNotEnabled") {
    return new ConfigurationError(`${what}: ${ENABLE_JETSTREAM}`, { cause: err });
  }
  if (err instanceof JetStreamApiError) {
    const desc = err.apiError().description;
    switch (err.code) {
      case API.notEnabledForAccount:
        return new ConfigurationError(
          `${what}: JetStream is not enabled for this account; enable it in the server's account configuration`,
          { cause: err },
        );
      case API.insufficientResources:
      case API.insufficientStorage:
        return new ConfigurationError(
          `${what}: the server has not enough JetStream storage for the topics stream (${desc}); ` +
            "lower topics.maxBytes or raise the server's max_file_store / max_memory_store",
          { cause: err },
        );
      case API.replicasNotSupported:
        return new ConfigurationError(
          `${what}: ${desc}; topics.replicas above 1 needs a JetStream cluster of at least that many servers`,
          { cause: err },
        );
      default:
        return new ConfigurationError(`${what}: JetStream refused (${err.code}: ${desc})`, { cause: err });
    }
  }
  return fromNatsError(err, what);
}

export class TopicStream {
  #jsm: Promise<JetStreamManager> | undefined;
  #ready: Promise<void> | undefined;
  /** True once the stream is known to exist with fitting settings. */
  ready = false;
  /** True once it has been ready: later set-up errors are passing (JetStream restarting), not a set-up problem. */
  seen = false;

  constructor(
    private readonly nc: NatsConnection,
    readonly settings: ResolvedTopics,
    private readonly subject: string,
  ) {}

  get name(): string {
    return this.settings.stream;
  }

  /** The JetStream manager, made once (it checks that JetStream answers). */
  manager(): Promise<JetStreamManager> {
    this.#jsm ??= jetstreamManager(this.nc).catch((err: unknown) => {
      this.#jsm = undefined;
      throw fromJetStreamError(err, "JetStream");
    });
    return this.#jsm;
  }

  /** Makes sure the stream exists and fits; concurrent callers share one attempt, a failure is retried next time. */
  ensure(): Promise<void> {
    if (this.ready) return Promise.resolve();
    this.#ready ??= this.#ensure().then(
      () => {
        this.ready = true;
        this.seen = true;
      },
      (err: unknown) => {
        this.#ready = undefined;
        throw err;
      },
    );
    return this.#ready;
  }

  /** Forgets that the stream was there (it answered "no responders"): the next ensure() checks again. */
  recheck(): void {
    this.ready = false;
    this.#ready = undefined;
  }

  async #ensure(): Promise<void> {
    const jsm = await this.manager();
    const what = `topics stream "${this.name}"`;
    let existing: StreamConfig | undefined;
    try {
      existing = (await jsm.streams.info(this.name)).config;
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw fromJetStreamError(err, what);
    }
    if (existing) {
      this.#check(existing);
      return;
    }
    try {
      // identical settings from several processes at once all succeed
      await jsm.streams.add(streamConfig(this.settings, this.subject));
    } catch (err) {
      if (!(err instanceof JetStreamApiError)) throw fromJetStreamError(err, what);
      if (err.code === API.streamNameInUse) {
        // created meanwhile by a process with other settings
        this.#check((await jsm.streams.info(this.name)).config);
        return;
      }
      if (err.code === API.subjectsOverlap) {
        throw new ConfigurationError(
          `${what}: another stream already stores "${this.subject}"; ` +
            "connect with topics.stream set to that stream's name, or delete it",
          { cause: err },
        );
      }
      throw fromJetStreamError(err, what);
    }
  }

  #check(config: StreamConfig): void {
    const problems = incompatibilities(this.settings, this.subject, config);
    if (problems.length === 0) return;
    throw new ConfigurationError(
      `topics stream "${this.name}" exists with other settings: ${problems.join("; ")}. ` +
        "jetmesh does not change an existing stream: connect with matching topics options, " +
        "or delete or edit the stream (nats stream edit / rm)",
    );
  }
}
