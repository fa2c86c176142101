/**
 * A stream jetmesh manages (a namespace's topics or tunnels stream): created
 * on first use, checked when it exists, never altered. What goes wrong is
 * mapped to errors naming the fix (api-errors.ts).
 */
import { JetStreamApiError, type JetStreamManager, jetstreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { VERSION } from "../config/index.js";
import { ConfigurationError } from "../errors/index.js";
import { API, fromJetStreamError, isApiError } from "./api-errors.js";
import { incompatibilities, keepsMetadata, type StreamSettings, streamConfig } from "./stream-config.js";

/** The metadata keys of a stream jetmesh made. */
export const METADATA = { madeBy: "jetmesh.made_by", kind: "jetmesh.kind", subject: "jetmesh.subject" } as const;

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
      await jsm.streams.add(streamConfig(this.settings, this.subject, this.#metadata()));
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

  /** What tags the stream as jetmesh's, where the server keeps it. */
  #metadata(): Record<string, string> | undefined {
    if (!keepsMetadata(this.nc)) return undefined;
    return { [METADATA.madeBy]: `jetmesh ${VERSION}`, [METADATA.kind]: this.kind, [METADATA.subject]: this.subject };
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
