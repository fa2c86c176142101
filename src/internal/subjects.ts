/** Every NATS subject jetmesh uses is built here. */
export interface Subjects {
  /** Requests to a cluster (members subscribe in queue group `<cluster>`). */
  request(cluster: string): string;
  /** Broadcasts to every member of a cluster. */
  broadcast(cluster: string): string;
  /** Events of one topic, stored in the namespace's topics stream. */
  topic(topic: string): string;
  /** Every topic of the namespace: the topics stream's subject. */
  readonly topics: string;
}

export function subjects(namespace: string): Subjects {
  return {
    request: (cluster) => `${namespace}.req.${cluster}`,
    broadcast: (cluster) => `${namespace}.bcast.${cluster}`,
    topic: (topic) => `${namespace}.topic.${topic}`,
    topics: `${namespace}.topic.>`,
  };
}
