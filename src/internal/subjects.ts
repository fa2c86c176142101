/** Every NATS subject jetmesh uses is built here. */
export interface Subjects {
  /** Requests to a cluster (members subscribe in queue group `<cluster>`). */
  request(cluster: string): string;
  /** Broadcasts to every member of a cluster. */
  broadcast(cluster: string): string;
}

export function subjects(namespace: string): Subjects {
  return {
    request: (cluster) => `${namespace}.req.${cluster}`,
    broadcast: (cluster) => `${namespace}.bcast.${cluster}`,
  };
}
