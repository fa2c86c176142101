/** What a tunnel end is made with: its subjects, window, bounds and sizes, agreed at set-up. */
import type { ReaderTerms } from "./writer.js";

export interface TunnelPlan {
  id: string;
  cluster: string;
  stream: string;
  /** Where this end's messages go, and where the other end's come from. */
  outSubject: string;
  inSubject: string;
  /** Where this end hears the other's control messages, and where it sends its own. */
  controlIn: string;
  controlOut: string;
  window: number;
  maxMessage: number;
  heartbeat: number;
  /** How long an outage of either end's connection is ridden out, in ms. */
  outageTimeout: number;
  /** The largest payload one JetStream message may carry on this end's server. */
  maxChunk: number;
  /** The largest message the server carries, with its subject and headers (for pulls). */
  maxEvent: number;
}

/** What the other end said at set-up: its terms as a reader, and whether it reads END frames. */
export type PeerTerms = ReaderTerms & { halfClose?: boolean };
