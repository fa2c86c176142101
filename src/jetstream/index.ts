export { fromJetStreamError } from "./api-errors.js";
export { ManagedStream } from "./managed-stream.js";
export { PUBLISH_HEADER_BYTES, Publisher } from "./publisher.js";
export { type ConsumerHost, type ConsumerPlan, type Delivery, PullConsumer, type StartAt } from "./pull-consumer.js";
export type { StreamSettings } from "./stream-config.js";
