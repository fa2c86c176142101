export { DEFAULT_SERVICE_LIMITS } from "./limits.js";
export {
  type MicroEndpoint,
  type MicroEndpointStats,
  NAMESPACE_KEY,
  type ServiceInfo,
} from "./micro.js";
export { checkServiceArgs, createService } from "./service.js";
export type {
  BroadcastContext,
  RequestContext,
  Service,
  ServiceHandler,
  ServiceHost,
  ServiceImpl,
  ServiceLimits,
  ServiceOptions,
  ServiceStats,
} from "./types.js";
