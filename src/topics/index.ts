/** Publish/subscribe over the namespace's topics stream. */
export { type ResolvedTopics, resolveTopics, TOPICS_DEFAULTS } from "./settings.js";
export { DEFAULT_TOPIC_LIMITS, Topics } from "./topics.js";
