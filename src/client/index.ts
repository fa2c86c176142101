/** connect(), register() and the Connection: the composition root. */
export { connect } from "./connect.js";
export { fromNats } from "./from-nats.js";
export { permissions, permissionsConfig } from "./permissions.js";
export { register } from "./register.js";
