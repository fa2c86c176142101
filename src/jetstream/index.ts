/** JetStream machinery: managed streams, the acked publisher, and pull consumers sized to their subscriber's room. */
export { fromJetStreamError } from "./api-errors.js";
export type { ConsumerPlan, Delivery, StartAt } from "./consumer-plan.js";
export { ManagedStream } from "./managed-stream.js";
export { PUBLISH_HEADER_BYTES, Publisher } from "./publisher.js";
export { PullConsumer } from "./pull-consumer.js";
export type { StreamSettings } from "./stream-config.js";
