/**
 * Scatter-gather: one request to every member of a cluster, each member's
 * answer yielded as it comes.
 */
import type { GatherOptions, GatherReply } from "../api/index.js";
import type { Runtime } from "../core/index.js";
import { ConfigurationError } from "../errors/index.js";

/** `conn.gather()`: validated here, before anything touches the network. */
export function gather(
  _rt: Runtime,
  _cluster: string,
  _payload: Uint8Array,
  _options: GatherOptions | undefined,
  _closing: AbortSignal,
): AsyncIterable<GatherReply> {
  throw new ConfigurationError("gather is not built yet");
}
