/** Defaults, the validation of user input (before any I/O), and the version. */
export { DEFAULTS, SERVICE_ENDPOINTS } from "./defaults.js";
export { showValue, typeName } from "./type-name.js";
export {
  validateHandler,
  validateLimits,
  validateName,
  validateNamespace,
  validateOptions,
  validatePayload,
  validateSignal,
  validateTimeout,
} from "./validate.js";
export { VERSION } from "./version.js";
