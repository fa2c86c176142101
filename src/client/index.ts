/** connect(), register() and the Connection: the composition root. */
export { connect } from "./connect.js";
export { fromNats } from "./from-nats.js";
export { type HealthOptions, type HealthReport, type HealthServer, serveHealth } from "./health-http.js";
export { permissions, permissionsConfig } from "./permissions.js";
export { register } from "./register.js";
export { type Closable, type CloseOnSignalOptions, closeOnSignal } from "./shutdown.js";
