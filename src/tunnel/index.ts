/** Tunnels: set-up, frames, credit, chunking, liveness and close. */
export { type ResolvedTunnels, resolveTunnels, TUNNELS_DEFAULTS } from "./settings.js";
export type { TunnelEnd } from "./tunnel-end.js";
export { Tunnels } from "./tunnels.js";
