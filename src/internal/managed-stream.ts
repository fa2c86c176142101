/**
 * The topics stream of a namespace: created on first use, checked when it
 * exists, never altered. JetStream errors are mapped to errors naming the fix.
 */
import {
  DiscardPolicy,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { ConfigurationError, ConnectionError, type JetmeshError } from "./errors.js";
import type { Logger } from "./logger.js";
import { fromNatsError } from "./nats-errors.js";
import type { ConsumerHost } from "./pull-consumer.js";

/** A stream jetmesh manages (topics, tunnels): its settings, validated, and which of them the user gave. */
export interface StreamSettings<K extends string = string> {
  stream: string;
  storage: "file" | "memory";
  replicas: number;
  maxAge: number;
  maxBytes: number;
  discard: "old" | "new";
  duplicateWindow: number;
  /** The settings the user gave, checked against an existing stream. */
  given: ReadonlySet<K>;
}

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

/** The stream configuration these settings ask for. */
export function streamConfig(t: StreamSettings, subject: string): Partial<StreamConfig> & { name: string } {
  return {
    name: t.stream,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    storage: t.storage === "file" ? StorageType.File : StorageType.Memory,
    num_replicas: t.replicas,
    max_age: nanos(t.maxAge),
    max_bytes: t.maxBytes === 0 ? -1 : t.maxBytes,
    discard: t.discard === "old" ? DiscardPolicy.Old : DiscardPolicy.New,
    duplicate_window: nanos(t.duplicateWindow),
  };
}

/**
 * Why an existing stream cannot serve these settings: each difference in
 * words, empty when it can.
 */
export function incompatibilities(t: StreamSettings, subject: string, existing: StreamConfig, kind: string): string[] {
  const wanted = streamConfig(t, subject);
  const out: string[] = [];
  if (!existing.subjects?.includes(subject)) {
    out.push(`its subjects are ${JSON.stringify(existing.subjects ?? [])}, not including "${subject}"`);
  }
  if (existing.retention !== RetentionPolicy.Limits) {
    out.push(`its retention is "${existing.retention}", jetmesh needs "limits"`);
  }
  const compare: Array<[string, keyof StreamConfig]> = [
    ["storage", "storage"],
    ["replicas", "num_replicas"],
    ["maxAge", "max_age"],
    ["maxBytes", "max_bytes"],
    ["discard", "discard"],
    ["duplicateWindow", "duplicate_window"],
  ];
  for (const [option, field] of compare) {
    if (!t.given.has(option)) continue;
    const have = existing[field];
    const want = wanted[field];
    if (have !== want)
      out.push(`its ${field} is ${JSON.stringify(have)}, ${kind}.${option} asks for ${JSON.stringify(want)}`);
  }
  return out;
}

/** Whether `err` is JetStream's answer with API error `code`. */
export function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/**
 * JetStream answers that pass on their own: the cluster has no meta leader
 * yet, a stream or consumer is electing one, or its peers are restarting.
 */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([
  10008, // JetStream system temporarily unavailable (503)
  10009, // JetStream cluster can not handle request
]);
const TRANSIENT_TEXT = /temporarily unavailable|offline|leadership|not currently available|no quorum/i;

/** Whether a JetStream API error passes on its own (a cluster electing a leader): retry, don't reconfigure. */
export function isTransientApiError(err: unknown): boolean {
  if (!(err instanceof JetStreamApiError)) return false;
  const api = err.apiError();
  return api.code === 503 || TRANSIENT_CODES.has(err.code) || TRANSIENT_TEXT.test(api.description ?? "");
}

/**
 * Maps an error from a JetStream API call to a jetmesh error. `kind` is the
 * stream the call was about, for messages that name its options.
 */
export function fromJetStreamError(err: unknown, what: string, kind: "topics" | "tunnels" = "topics"): JetmeshError {
  if (err instanceof Error && err.name === "JetStreamNotEnabled") {
    return new ConfigurationError(`${what}: ${ENABLE_JETSTREAM}`, { cause: err });
  }
  if (isTransientApiError(err)) {
    const desc = (err as JetStreamApiError).apiError().description;
    return new ConnectionError(`${what}: JetStream is temporarily unavailable (${desc}); retry`, {
      cause: err,
      retryable: true,
    });
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
          `${what}: the server has not enough JetStream storage for the ${kind} stream (${desc}); ` +
            `lower the ${kind}.maxBytes option or raise the server's max_file_store / max_memory_store`,
          { cause: err },
        );
      case API.replicasNotSupported:
        return new ConfigurationError(
          `${what}: ${desc}; replicas above 1 need a JetStream cluster of at least that many servers`,
          { cause: err },
        );
      default:
        return new ConfigurationError(`${what}: JetStream refused (${err.code}: ${desc})`, { cause: err });
    }
  }
  return fromNatsError(err, what);
}

/**
 * A stream jetmesh manages: created on first use with its settings, checked
 * (never altered) when it exists. `kind` names its options in messages.
 */
export class ManagedStream {
  #jsm: Promise<JetStreamManager> | undefined;
  #ready: Promise<void> | undefined;
  /** True once the stream is known to exist with fitting settings. */
  ready = false;
  /** True once it has been ready: later set-up errors are passing (JetStream restarting), not a set-up problem. */
  seen = false;

  constructor(
    private readonly nc: NatsConnection,
    readonly settings: StreamSettings,
    private readonly subject: string,
    private readonly kind: "topics" | "tunnels",
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

  /** What a pull consumer on this stream needs. */
  consumerHost(logger: Logger, inboxPrefix: string | undefined, drainTimeout: number): ConsumerHost {
    return {
      nc: this.nc,
      jsm: () => this.manager(),
      ensureStream: () => {
        this.recheck();
        return this.ensure();
      },
      logger,
      inboxPrefix,
      drainTimeout,
    };
  }

  /** Forgets that the stream was there (it answered "no responders"): the next ensure() checks again. */
  recheck(): void {
    this.ready = false;
    this.#ready = undefined;
  }

  async #ensure(): Promise<void> {
    const jsm = await this.manager();
    const what = `${this.kind} stream "${this.name}"`;
    let existing: StreamConfig | undefined;
    try {
      existing = (await jsm.streams.info(this.name)).config;
    } catch (err) {
      if (!isApiError(err, API.streamNotFound)) throw fromJetStreamError(err, what, this.kind);
    }
    if (existing) {
      this.#check(existing);
      return;
    }
    try {
      // identical settings from several processes at once all succeed
      await jsm.streams.add(streamConfig(this.settings, this.subject));
    } catch (err) {
      if (!(err instanceof JetStreamApiError)) throw fromJetStreamError(err, what, this.kind);
      if (err.code === API.streamNameInUse) {
        // created meanwhile by a process with other settings
        this.#check((await jsm.streams.info(this.name)).config);
        return;
      }
      if (err.code === API.subjectsOverlap) {
        // two processes creating the same stream at once: the server may answer the loser with an
        // overlap (with itself) instead of "name in use"; the stream is there, so check it
        const mine = await jsm.streams.info(this.name).then(
          (info) => info.config,
          () => undefined,
        );
        if (mine) {
          this.#check(mine);
          return;
        }
        throw new ConfigurationError(
          `${what}: another stream already stores "${this.subject}"; ` +
            `connect with ${this.kind}.stream set to that stream's name, or delete it`,
          { cause: err },
        );
      }
      throw fromJetStreamError(err, what, this.kind);
    }
  }

  #check(config: StreamConfig): void {
    const problems = incompatibilities(this.settings, this.subject, config, this.kind);
    if (problems.length === 0) return;
    throw new ConfigurationError(
      `${this.kind} stream "${this.name}" exists with other settings: ${problems.join("; ")}. ` +
        `jetmesh does not change an existing stream: connect with matching ${this.kind} options, ` +
        "or delete or edit the stream (nats stream edit / rm)",
    );
  }
}
