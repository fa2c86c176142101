/**
 * Discovery: the live members of this namespace's clusters, as they answer the
 * micro protocol's `STATS` (and `INFO`) on the namespace's own subjects
 * (`<ns>.srv.*`) within a short time-out, filtered like Kite's queries by
 * version range and metadata; with `foreign`, also what answers `$SRV.*`. A
 * member that has gone away does not answer, so it is not listed: there is no
 * registry to clean. A refused subscription or publish rejects at once.
 */
import { createInbox, Empty, type Subscription } from "@nats-io/nats-core";
import semver from "semver";
import type { DiscoverOptions, Member, MicroEndpointStats } from "../api/index.js";
import { validateName, validateOptions, validateSignal, validateTimeout } from "../config/index.js";
import type { Runtime } from "../core/index.js";
import { fromNatsError, InvalidArgumentError } from "../errors/index.js";
import { safeCallback } from "../logging/index.js";
import { CLUSTER_KEY, NAMESPACE_KEY } from "../service/index.js";

const DEFAULT_TIMEOUT = 500;
const decoder = new TextDecoder();

/** The members of `rt`'s namespace (of `cluster`, when given); `closing` aborts when the connection closes. */
export async function discover(
  rt: Runtime,
  cluster: unknown,
  options: unknown,
  closing: AbortSignal,
): Promise<Member[]> {
  const { nc, logger, inboxPrefix } = rt;
  const namespace = rt.subjects.namespace;
  if (cluster !== undefined) validateName("cluster", cluster);
  const o = validateOptions<DiscoverOptions>("options", options, [
    "version",
    "metadata",
    "timeout",
    "signal",
    "foreign",
  ]);
  const given = validateSignal(o.signal);
  // a refused subscription or question ends the wait, as the caller's signal does
  const refusal = new AbortController();
  const signal = AbortSignal.any(given ? [given, closing, refusal.signal] : [closing, refusal.signal]);
  signal.throwIfAborted();
  const timeout = validateTimeout("options.timeout", o.timeout, DEFAULT_TIMEOUT);
  if (o.version !== undefined && (typeof o.version !== "string" || semver.validRange(o.version) === null)) {
    throw new InvalidArgumentError(`options.version must be a SemVer range such as "^1.2.0", got ${String(o.version)}`);
  }
  const wanted: [string, string][] = [];
  if (o.metadata !== undefined) {
    if (typeof o.metadata !== "object" || o.metadata === null || Array.isArray(o.metadata)) {
      throw new InvalidArgumentError("options.metadata must be an object of strings");
    }
    for (const [k, v] of Object.entries(o.metadata)) {
      if (typeof v !== "string") throw new InvalidArgumentError(`options.metadata.${k} must be a string`);
      wanted.push([k, v]);
    }
  }
  if (o.foreign !== undefined && typeof o.foreign !== "boolean") {
    throw new InvalidArgumentError(`options.foreign must be a boolean, got ${String(o.foreign)}`);
  }
  const foreign = o.foreign === true;
  const inbox = createInbox(inboxPrefix);
  const found = new Map<string, Member>();
  const descriptions = new Map<string, string>();
  const asked = new Set<string>();
  for (const verb of ["STATS", "INFO"]) {
    asked.add(rt.subjects.discovery(verb, cluster as string | undefined));
    if (foreign) asked.add(cluster === undefined ? `$SRV.${verb}` : `$SRV.${verb}.${cluster}`);
  }
  const unwatch = rt.denials.watch(
    (subject) => asked.has(subject),
    (violation) => refusal.abort(fromNatsError(violation, "discover")),
  );
  let sub: Subscription;
  try {
    sub = nc.subscribe(inbox, {
      callback: safeCallback(logger, "discovery", (err, msg) => {
        if (err) {
          refusal.abort(fromNatsError(err, "discover"));
          return;
        }
        const answer = readAnswer(msg.data);
        const info = answer && readInfo(answer);
        if (info) {
          descriptions.set(info.id, info.description);
          return;
        }
        const member = answer && readStats(answer);
        if (member === undefined) {
          logger.debug({ subject: msg.subject }, "discovery answer that is not a micro STATS response ignored");
          return;
        }
        const ns = member.metadata[NAMESPACE_KEY];
        if (ns === undefined ? !foreign : ns !== namespace) return;
        if (o.version !== undefined && !semver.satisfies(member.version, o.version)) return;
        if (!wanted.every(([k, v]) => member.metadata[k] === v)) return;
        found.set(member.id, member);
      }),
    });
    for (const subject of asked) nc.publish(subject, Empty, { reply: inbox });
  } catch (err) {
    unwatch();
    throw fromNatsError(err, "discover");
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer);
        reject(signal.reason);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, timeout);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  } finally {
    unwatch();
    try {
      sub.unsubscribe();
    } catch {
      // the connection closed meanwhile
    }
  }
  return [...found.values()]
    .map((m) => ({ ...m, description: descriptions.get(m.id) ?? "" }))
    .sort((a, b) => a.cluster.localeCompare(b.cluster) || a.id.localeCompare(b.id));
}

/** The fields of a micro protocol answer jetmesh reads. */
interface Answer {
  type?: unknown;
  name?: unknown;
  id?: unknown;
  version?: unknown;
  description?: unknown;
  metadata?: unknown;
  started?: unknown;
  endpoints?: unknown;
}

/** A JSON object from the wire, or undefined when `data` is not one. */
function readAnswer(data: Uint8Array): Answer | undefined {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    return v !== null && typeof v === "object" ? (v as Answer) : undefined;
  } catch {
    return undefined;
  }
}

/** A micro INFO answer's id and description, or undefined when `v` is something else. */
function readInfo(v: Answer): { id: string; description: string } | undefined {
  if (v.type !== "io.nats.micro.v1.info_response") return undefined;
  if (typeof v.id !== "string") return undefined;
  return { id: v.id, description: typeof v.description === "string" ? v.description : "" };
}

function readStats(v: Answer): Member | undefined {
  if (v.type !== "io.nats.micro.v1.stats_response") return undefined;
  if (typeof v.name !== "string" || typeof v.id !== "string" || typeof v.version !== "string") return undefined;
  const metadata = (v.metadata !== null && typeof v.metadata === "object" ? v.metadata : {}) as Record<string, string>;
  const endpoints = (Array.isArray(v.endpoints) ? v.endpoints : []) as MicroEndpointStats[];
  const of = (name: string) => endpoints.find((e) => e?.name === name);
  const req = of("request");
  const bcast = of("broadcast");
  const num = (x: unknown) => (typeof x === "number" && Number.isFinite(x) ? x : 0);
  return {
    cluster: metadata[CLUSTER_KEY] ?? v.name,
    id: v.id,
    version: v.version,
    description: "",
    metadata,
    started: new Date(typeof v.started === "string" ? v.started : 0),
    endpoints,
    foreign: metadata[NAMESPACE_KEY] === undefined,
    stats: {
      requests: num(req?.num_requests),
      requestErrors: num(req?.num_errors),
      averageProcessingTime: num(req?.average_processing_time) / 1e6,
      overloaded: num(req?.data?.overloaded),
      broadcasts: num(bcast?.num_requests),
      dropped: num(bcast?.data?.dropped),
      tunnels: num(of("tunnel")?.num_requests),
      queuedBytes: num(req?.data?.queued_bytes) + num(bcast?.data?.queued_bytes),
    },
  };
}
