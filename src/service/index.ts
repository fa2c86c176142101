export { DEFAULT_SERVICE_LIMITS } from "./limits.js";
export { NAMESPACE_KEY } from "./micro.js";
export { checkServiceArgs, createService } from "./service.js";
export type { ServiceImpl } from "./types.js";
