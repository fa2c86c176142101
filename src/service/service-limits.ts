import type { ServiceLimits } from "../api/index.js";
import { DEFAULTS, validateLimits } from "../config/index.js";

/** The default service limits: 4 x CPU count handlers and 64 MiB per queue, as in Iris. */
export const DEFAULT_SERVICE_LIMITS: Readonly<ServiceLimits> = Object.freeze({
  requestThreads: DEFAULTS.threads,
  requestMemory: DEFAULTS.memory,
  broadcastThreads: DEFAULTS.threads,
  broadcastMemory: DEFAULTS.memory,
});

/** Validates partial limits, filling in defaults. */
export function resolveServiceLimits(value: unknown): ServiceLimits {
  return validateLimits("limits", value, { ...DEFAULT_SERVICE_LIMITS });
}
