/** Members of a cluster: request, broadcast and tunnel dispatch within limits, and micro discovery. */
export { checkServiceArgs, createService } from "./member-service.js";
export { CLUSTER_KEY, NAMESPACE_KEY } from "./micro-responder.js";
export { DEFAULT_SERVICE_LIMITS } from "./service-limits.js";
export type { ServiceImpl } from "./service-owner.js";
