/**
 * The consumer configurations jetmesh asks JetStream for: an ordered
 * consumer (ephemeral, no acks, in memory) and a shared one (named, explicit
 * acks), each starting where the subscription says.
 */
import { AckPolicy, type ConsumerConfig, DeliverPolicy, ReplayPolicy } from "@nats-io/jetstream";
import { nanos, nuid } from "@nats-io/nats-core";
import type { SharedPlan, StartAt } from "./consumer-plan.js";

/** An ordered consumer the client forgot (crash) is removed by the server after this long. */
const ORDERED_INACTIVE_MS = 5 * 60_000;

/** Where a consumer starts: after `cursor` when it is known, else at the plan's start (default: new events). */
export function startConfig(cursor: number | undefined, start: StartAt): Partial<ConsumerConfig> {
  if (cursor !== undefined) return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: cursor + 1 };
  if (start && "time" in start) {
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: start.time.toISOString() };
  }
  return { deliver_policy: DeliverPolicy.New };
}

/** An ordered consumer of `subject`, under a fresh name. */
export function orderedConfig(subject: string, start: Partial<ConsumerConfig>): Partial<ConsumerConfig> {
  return {
    name: `jm_${nuid.next()}`,
    filter_subject: subject,
    ack_policy: AckPolicy.None,
    replay_policy: ReplayPolicy.Instant,
    mem_storage: true,
    num_replicas: 1,
    inactive_threshold: nanos(ORDERED_INACTIVE_MS),
    ...start,
  };
}

/** The shared consumer `shared` of `subject`. */
export function sharedConfig(
  subject: string,
  shared: SharedPlan,
  start: Partial<ConsumerConfig>,
): Partial<ConsumerConfig> {
  const c: Partial<ConsumerConfig> = {
    durable_name: shared.name,
    filter_subject: subject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(shared.ackWait),
    max_deliver: shared.maxDeliver,
    replay_policy: ReplayPolicy.Instant,
    ...start,
  };
  if (shared.inactiveThreshold !== undefined) c.inactive_threshold = nanos(shared.inactiveThreshold);
  return c;
}
