/**
 * The NATS micro protocol for one member: it answers `$SRV.PING`, `$SRV.INFO`
 * and `$SRV.STATS` (alone, with its cluster name, and with its name and id),
 * so `nats micro ls/info/stats` and any micro client see jetmesh clusters, and
 * `conn.discover()` lists members. A member that is gone does not answer: no
 * registry, no reaper.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { MicroEndpoint, MicroEndpointStats, ServiceInfo } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { safeCallback } from "../logging/index.js";

/** The metadata key that names a member's namespace (micro clients see every namespace). */
export const NAMESPACE_KEY = "jetmesh.namespace";

/** What the responder reads of its member. */
export interface MicroSource {
  readonly cluster: string;
  readonly id: string;
  readonly info: ServiceInfo;
  readonly started: Date;
  endpoints(): MicroEndpoint[];
  endpointStats(): MicroEndpointStats[];
}

const VERBS = ["PING", "INFO", "STATS"] as const;
type Verb = (typeof VERBS)[number];

const encoder = new TextEncoder();

export class MicroResponder {
  readonly #subs: Subscription[] = [];

  constructor(
    private readonly rt: Runtime,
    private readonly source: MicroSource,
  ) {}

  subscribe(): void {
    const { cluster, id } = this.source;
    for (const verb of VERBS) {
      for (const subject of [`$SRV.${verb}`, `$SRV.${verb}.${cluster}`, `$SRV.${verb}.${cluster}.${id}`]) {
        this.#subs.push(
          this.rt.nc.subscribe(subject, {
            callback: safeCallback(this.rt.logger, "discovery answer", (err, msg) => this.#answer(verb, err, msg)),
          }),
        );
      }
    }
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

  #answer(verb: Verb, err: Error | null, msg: Msg): void {
    if (err || !msg.reply) return;
    try {
      msg.respond(encoder.encode(JSON.stringify(this.#body(verb))));
    } catch (error) {
      this.rt.logger.warn(
        { cluster: this.source.cluster, subject: msg.subject, err: error },
        "micro protocol answer could not be sent",
      );
    }
  }

  #body(verb: Verb): object {
    const { cluster, id, info } = this.source;
    const head = { name: cluster, id, version: info.version, metadata: info.metadata };
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
      case "STATS":
        return {
          type: "io.nats.micro.v1.stats_response",
          ...head,
          started: this.source.started.toISOString(),
          endpoints: this.source.endpointStats(),
        };
    }
  }
}
