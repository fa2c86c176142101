/** The checks of `send` and `recv` arguments, made before anything touches the network. */
import type { RecvOptions, SendOptions } from "../api/index.js";
import { validateOptions, validatePayload, validateSignal, validateTimeout } from "../config/index.js";
import { InvalidArgumentError, PayloadTooLargeError } from "../errors/index.js";

const CALL_KEYS = ["timeout", "signal"] as const;

/** A call's time-out in ms (0: none) and signal. */
export interface CallTerms {
  timeout: number;
  signal: AbortSignal | undefined;
}

/** Checks a `send`: bytes, not empty, at most `maxMessage`; the time-out defaults to `defaultTimeout`. */
export function checkSend(
  message: unknown,
  options: SendOptions | undefined,
  defaultTimeout: number,
  maxMessage: number,
): CallTerms {
  const bytes = validatePayload("message", message);
  if (bytes.byteLength === 0) throw new InvalidArgumentError("message must not be empty");
  const o = validateOptions<SendOptions>("options", options, CALL_KEYS);
  const timeout = validateTimeout("options.timeout", o.timeout, defaultTimeout);
  const signal = validateSignal(o.signal);
  if (bytes.byteLength > maxMessage) {
    throw new PayloadTooLargeError(
      `tunnel message of ${bytes.byteLength} bytes is above the tunnel maximum of ${maxMessage}`,
    );
  }
  return { timeout, signal };
}

/** Checks a `recv`: its time-out (0, the default: wait for ever) and signal. */
export function checkRecv(options: RecvOptions | undefined): CallTerms {
  const o = validateOptions<RecvOptions>("options", options, CALL_KEYS);
  return { timeout: validateTimeout("options.timeout", o.timeout, 0, true), signal: validateSignal(o.signal) };
}
