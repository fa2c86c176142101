/**
 * Binding a shared consumer (durable or group): the named consumer is
 * created when missing; an existing one keeps its settings, except the
 * ackWait / maxDeliver given explicitly, which are updated.
 */
import type { ConsumerConfig, ConsumerInfo, ConsumerUpdateConfig, JetStreamManager } from "@nats-io/jetstream";
import { millis, nanos } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";
import { API, isApiError } from "./api-errors.js";
import type { SharedInForce, SharedPlan } from "./consumer-plan.js";

/** How to bind: the stream, whether the consumer was bound before, and how to create it. */
export interface SharedBind {
  jsm: JetStreamManager;
  stream: string;
  shared: SharedPlan;
  logger: Logger;
  /** Bound before: a consumer missing now is gone from the server. */
  rebinding: boolean;
  /** Creates the consumer from the configuration `config()` gives at the time. */
  create(config: () => Partial<ConsumerConfig>): Promise<ConsumerInfo>;
  /** The configuration to create it with. */
  config(): Partial<ConsumerConfig>;
}

/** Binds the shared consumer, creating it if missing; resolves with its name and the settings in force. */
export async function bindShared(b: SharedBind): Promise<{ name: string; inForce: SharedInForce }> {
  const { jsm, stream, shared } = b;
  let info: ConsumerInfo | undefined;
  try {
    info = await jsm.consumers.info(stream, shared.name);
  } catch (err) {
    if (!isApiError(err, API.consumerNotFound) && !isApiError(err, API.streamNotFound)) throw err;
  }
  if (info !== undefined) {
    const update: Partial<ConsumerUpdateConfig> = {};
    if (shared.given.ackWait && info.config.ack_wait !== nanos(shared.ackWait)) update.ack_wait = nanos(shared.ackWait);
    if (shared.given.maxDeliver && info.config.max_deliver !== shared.maxDeliver) {
      update.max_deliver = shared.maxDeliver;
    }
    if (Object.keys(update).length > 0) {
      b.logger.info({ consumer: shared.name, update }, "updating the settings of an existing subscription");
      info = await jsm.consumers.update(stream, shared.name, update);
    }
  } else {
    if (b.rebinding) {
      b.logger.warn({ consumer: shared.name }, "the subscription's consumer is gone from the server; recreating it");
    }
    // several members creating it at once with the same settings all succeed
    info = await b.create(() => b.config());
  }
  const maxDeliver = info.config.max_deliver ?? -1;
  return {
    name: info.name,
    inForce: {
      ackWait: Math.max(1, Math.round(millis(info.config.ack_wait ?? nanos(shared.ackWait)))),
      maxDeliver: maxDeliver > 0 ? maxDeliver : Number.POSITIVE_INFINITY,
    },
  };
}
