import type { Msg } from "@nats-io/nats-core";
import type { Logger } from "../api/index.js";

type Callback = (err: Error | null, msg: Msg) => void;

/**
 * A subscription callback that never throws: nats-core stops reading the
 * connection's socket when one does, which would leave the process connected
 * but deaf. What `fn` throws is logged as `what` failed.
 */
export function safeCallback(logger: Logger, what: string, fn: Callback): Callback {
  return (err, msg) => {
    try {
      fn(err, msg);
    } catch (cause) {
      try {
        logger.error({ err: cause, subject: msg?.subject }, `${what} failed`);
      } catch {
        // nothing more to do: the socket reader must go on
      }
    }
  };
}
