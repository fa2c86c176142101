/** Every NATS subject jetmesh uses is built here (but the micro protocol's own `$SRV.*`). */
export interface Subjects {
  /** The namespace every subject below lives under. */
  readonly namespace: string;
  /**
   * Requests to a cluster (members subscribe in queue group {@link REQUEST_QUEUE}),
   * or to one of its methods: `<ns>.req.<cluster>[.<method>]`.
   */
  request(cluster: string, method?: string): string;
  /** Gathers: to every member of a cluster (no queue group), `<ns>.all.<cluster>[.<method>]`. */
  gather(cluster: string, method?: string): string;
  /** Cancellations of requests to a cluster: every member hears them, `<ns>.cancel.<cluster>`. */
  cancel(cluster: string): string;
  /** Broadcasts to every member of a cluster. */
  broadcast(cluster: string): string;
  /** Events of one topic, stored in the namespace's topics stream. */
  topic(topic: string): string;
  /** Every topic of the namespace: the topics stream's subject. */
  readonly topics: string;
  /** Tunnel set-up requests to a cluster (members subscribe in queue group `<cluster>`). */
  tunnelSetup(cluster: string): string;
  /** One direction of a tunnel's messages: `up` (opener to acceptor) or `down`. */
  tunnelData(id: string, direction: "up" | "down"): string;
  /** A tunnel's control messages (credit, heartbeats) to one side: `o` (opener) or `a` (acceptor). */
  tunnelControl(id: string, side: "o" | "a"): string;
  /** Every tunnel's messages: the tunnels stream's subject. */
  readonly tunnels: string;
  /**
   * The namespace's own micro protocol subjects, `<ns>.srv.<verb>[.<cluster>[.<id>]]`:
   * members answer them beside `$SRV.*`, so discovery works where a tenant may
   * not use `$SRV` (and sees only its own namespace).
   */
  discovery(verb: string, cluster?: string, id?: string): string;
  /** Which token (from 0) of a {@link discovery} subject is the verb: the namespace may have dots. */
  readonly discoveryVerbAt: number;
  /** The name members of `cluster` give the micro protocol: `<ns>_<cluster>` (dots of ns as `_`). */
  microName(cluster: string): string;
}

/**
 * The queue group members take requests in: the micro protocol's default, so
 * that a micro service in another language serving the same subject shares
 * the requests with jetmesh's members instead of getting each one again.
 */
export const REQUEST_QUEUE = "q";

export function subjects(namespace: string): Subjects {
  return {
    namespace,
    request: (cluster, method) => `${namespace}.req.${cluster}${method === undefined ? "" : `.${method}`}`,
    gather: (cluster, method) => `${namespace}.all.${cluster}${method === undefined ? "" : `.${method}`}`,
    cancel: (cluster) => `${namespace}.cancel.${cluster}`,
    broadcast: (cluster) => `${namespace}.bcast.${cluster}`,
    topic: (topic) => `${namespace}.topic.${topic}`,
    topics: `${namespace}.topic.>`,
    tunnelSetup: (cluster) => `${namespace}.tun.${cluster}`,
    tunnelData: (id, direction) => `${namespace}.tunnel.${id}.${direction}`,
    tunnelControl: (id, side) => `${namespace}.tunctl.${id}.${side}`,
    tunnels: `${namespace}.tunnel.>`,
    discovery: (verb, cluster, id) =>
      `${namespace}.srv.${verb}${cluster === undefined ? "" : `.${cluster}${id === undefined ? "" : `.${id}`}`}`,
    discoveryVerbAt: namespace.split(".").length + 1,
    microName: (cluster) => `${namespace.replaceAll(".", "_")}_${cluster}`,
  };
}

/** Where a pull request for `consumer` of `stream` goes (JetStream's API). */
export function pullSubject(stream: string, consumer: string): string {
  return `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`;
}
