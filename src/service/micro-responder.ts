/**
 * The NATS micro protocol for one member. It answers `PING`, `INFO` and
 * `STATS` (alone, with its name, and with its name and id) twice:
 * - on the namespace's own subjects `<ns>.srv.*`, which `conn.discover()`
 *   asks and a tenant's permissions on `<ns>.>` already cover;
 * - on the standard `$SRV.*`, so `nats micro ls/info/stats` and any micro
 *   client see jetmesh clusters, named `<ns>_<cluster>`. A user who may not
 *   subscribe to `$SRV` is told once in the log; jetmesh's own discovery
 *   still works.
 * A member that is gone does not answer: no registry, no reaper.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { MicroEndpoint, MicroEndpointStats, ServiceInfo } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { safeCallback } from "../logging/index.js";
import { Refusal } from "./refusal.js";

/** The metadata key that names a member's namespace (micro clients see every namespace). */
export const NAMESPACE_KEY = "jetmesh.namespace";
/** The metadata key that names a member's cluster (its micro name carries the namespace too). */
export const CLUSTER_KEY = "jetmesh.cluster";

/** What the responder reads of its member. */
export interface MicroSource {
  readonly cluster: string;
  readonly id: string;
  readonly info: ServiceInfo;
  readonly started: Date;
  endpoints(): MicroEndpoint[];
  endpointStats(): MicroEndpointStats[];
}

const VERBS = new Set(["PING", "INFO", "STATS"]);

const encoder = new TextEncoder();

export class MicroResponder {
  readonly #subs: Subscription[] = [];
  /** A refused subscription to the namespace's own subjects (registering fails with it). */
  readonly refusal: Refusal;
  #standardRefused = false;

  constructor(
    private readonly rt: Runtime,
    private readonly source: MicroSource,
  ) {
    this.refusal = new Refusal(rt, source.cluster, "discovery requests");
  }

  subscribe(): void {
    const { cluster, id } = this.source;
    const { subjects } = this.rt;
    const name = subjects.microName(cluster);
    // the verb is a wildcard token: one subscription serves PING, INFO and STATS
    for (const subject of [
      subjects.discovery("*"),
      subjects.discovery("*", cluster),
      subjects.discovery("*", cluster, id),
    ]) {
      this.#listen(subject, subjects.discoveryVerbAt, (err) => this.refusal.note(err));
    }
    for (const subject of ["$SRV.*", `$SRV.*.${name}`, `$SRV.*.${name}.${id}`]) {
      this.#listen(subject, 1, (err) => this.#standardFailed(err));
    }
  }

  /** Answers on `subject`, whose token `verbAt` is the verb. */
  #listen(subject: string, verbAt: number, failed: (err: Error) => void): void {
    this.#subs.push(
      this.rt.nc.subscribe(subject, {
        callback: safeCallback(this.rt.logger, "discovery answer", (err, msg) => {
          if (err) failed(err);
          else this.#answer(msg.subject.split(".")[verbAt] ?? "", msg);
        }),
      }),
    );
  }

  /** The standard `$SRV` subscription was refused: said once, as jetmesh's own discovery is unharmed. */
  #standardFailed(err: Error): void {
    if (this.#standardRefused) return;
    this.#standardRefused = true;
    this.rt.logger.warn(
      { cluster: this.source.cluster, err },
      "NATS micro tools (nats micro ls) cannot see this member: its user may not subscribe to $SRV.>; discover() still finds it",
    );
  }

  /** Stops answering: the member disappears from discovery at once. */
  stop(): void {
    for (const sub of this.#subs.splice(0)) {
      try {
        sub.unsubscribe();
      } catch {
        // the connection is closed already
      }
    }
  }

  #answer(verb: string, msg: Msg): void {
    if (!msg.reply || !VERBS.has(verb)) return;
    try {
      msg.respond(encoder.encode(JSON.stringify(this.#body(verb))));
    } catch (error) {
      this.rt.logger.warn(
        { cluster: this.source.cluster, subject: msg.subject, err: error },
        "micro protocol answer could not be sent",
      );
    }
  }

  #body(verb: string): object {
    const { cluster, id, info } = this.source;
    const head = { name: this.rt.subjects.microName(cluster), id, version: info.version, metadata: info.metadata };
    switch (verb) {
      case "PING":
        return { type: "io.nats.micro.v1.ping_response", ...head };
      case "INFO":
        return {
          type: "io.nats.micro.v1.info_response",
          ...head,
          description: info.description,
          endpoints: this.source.endpoints(),
        };
      default:
        return {
          type: "io.nats.micro.v1.stats_response",
          ...head,
          started: this.source.started.toISOString(),
          endpoints: this.source.endpointStats(),
        };
    }
  }
}
