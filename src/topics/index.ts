export type { PublishAck } from "../internal/index.js";
export { PUBLISH_HEADER_BYTES } from "../internal/index.js";
export { type ResolvedTopics, resolveTopics, TOPICS_DEFAULTS, type TopicsOptions } from "./settings.js";
export { DEFAULT_TOPIC_LIMITS, Topics } from "./topics.js";
export type {
  EventContext,
  EventHandler,
  PublishOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionStats,
  TopicHandler,
  TopicLimits,
} from "./types.js";
