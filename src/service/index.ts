export { DEFAULT_SERVICE_LIMITS } from "./limits.js";
export { checkServiceArgs, createService } from "./service.js";
export type {
  BroadcastContext,
  RequestContext,
  Service,
  ServiceHandler,
  ServiceHost,
  ServiceImpl,
  ServiceLimits,
  ServiceStats,
} from "./types.js";
