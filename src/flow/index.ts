/** Bounded queues (the Iris limits), the deadline wheel, and bounded waits. */
export { BoundedQueue } from "./bounded-queue.js";
export { DeadlineQueue } from "./deadline-queue.js";
export { Deadlines } from "./deadlines.js";
export { backoffDelay, mayRetry, type ResolvedRetry, resolveRetry, withRetries } from "./retry.js";
export { settlesWithin, withDeadline } from "./with-deadline.js";
