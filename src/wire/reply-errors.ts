/**
 * How a failed request travels back to the caller: the micro protocol's
 * `Nats-Service-Error` / `Nats-Service-Error-Code` headers (so any NATS client
 * understands them; the code is always a number), plus jetmesh's own
 * `Jetmesh-Error` kind and, for a code that is not a number,
 * `Jetmesh-Error-Code`.
 */
import { headers, type MsgHdrs } from "@nats-io/nats-core";
import {
  type JetmeshError,
  MemberLeftError,
  NoRespondersError,
  OverloadedError,
  RemoteError,
} from "../errors/index.js";
import { ERROR_KIND, ERROR_STATUS, HEADER, NO_RESPONDERS_STATUS } from "./headers.js";

export type ErrorKind = (typeof ERROR_KIND)[keyof typeof ERROR_KIND];

/** Header values may not hold line breaks; long messages are cut. */
function headerValue(text: string): string {
  const flat = text.replace(/[\r\n]+/g, " ");
  return flat.length > 1024 ? `${flat.slice(0, 1021)}...` : flat;
}

/** The code carried by a thrown value: its `code` property, else "500". */
export function codeOf(err: unknown): string {
  const code = typeof err === "object" && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === "string" || typeof code === "number" ? String(code) : "500";
}

/** A code the micro protocol takes as it is: a whole number. */
const NUMERIC = /^[0-9]{1,9}$/;

/**
 * Headers of an error reply. `code` is the error's own (a handler's, or the
 * kind for jetmesh's errors): a number travels as `Nats-Service-Error-Code`;
 * anything else in `Jetmesh-Error-Code`, beside the kind's number.
 */
export function errorHeaders(kind: ErrorKind, message: string, code: string): MsgHdrs {
  const h = headers();
  h.set(HEADER.serviceError, headerValue(message || "error"));
  const numeric = NUMERIC.test(code);
  h.set(HEADER.serviceErrorCode, numeric ? code : String(ERROR_STATUS[kind]));
  if (!numeric) h.set(HEADER.errorCode, headerValue(code));
  h.set(HEADER.errorKind, kind);
  return h;
}

/** The error a reply carries, or undefined when it is a plain reply. */
export function errorOfReply(h: MsgHdrs | undefined, cluster: string): JetmeshError | undefined {
  if (h === undefined) return undefined;
  if (h.code === NO_RESPONDERS_STATUS) return new NoRespondersError(`no member of cluster "${cluster}" is registered`);
  const message = h.get(HEADER.serviceError);
  // a code that is not a number travels in a header of its own (members before 0.2 sent it as the service code)
  const code = h.get(HEADER.errorCode) || h.get(HEADER.serviceErrorCode);
  if (!message && !code) return undefined;
  const text = message || `error ${code}`;
  switch (h.get(HEADER.errorKind)) {
    case ERROR_KIND.overloaded:
      return new OverloadedError(`cluster "${cluster}": ${text}`);
    case ERROR_KIND.left:
    case ERROR_KIND.closed:
      return new MemberLeftError(`cluster "${cluster}": ${text}`);
    case ERROR_KIND.abandoned:
      return new MemberLeftError(`cluster "${cluster}": ${text}`, { retryable: false });
    default:
      return new RemoteError(text, code || undefined);
  }
}
