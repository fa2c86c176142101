export { type ResolvedTunnels, resolveTunnels, TUNNELS_DEFAULTS, type TunnelsOptions } from "./settings.js";
export type { TunnelEnd } from "./tunnel.js";
export { Tunnels } from "./tunnels.js";
export type { RecvOptions, SendOptions, Tunnel, TunnelOptions } from "./types.js";
