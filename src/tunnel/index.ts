export { type ResolvedTunnels, resolveTunnels, TUNNELS_DEFAULTS } from "./settings.js";
export { TunnelEnd } from "./tunnel.js";
export { Tunnels } from "./tunnels.js";
