/**
 * How a failed check of a contract's value is reported, by whom it fails: the
 * sender's own value (an invalid argument), a value received by a handler or
 * a subscriber (a bad request), a reply made by a handler (a bad reply), and
 * a reply received by the caller (a remote error).
 */
import { ContractViolation, InvalidArgumentError, RemoteError } from "../errors/index.js";

/** How a failed check is reported: the error to throw for `what` with `issues`. */
export type Failure = (what: string, issues: string[], cause?: unknown) => Error;

export const outgoing: Failure = (what, issues, cause) =>
  new InvalidArgumentError(
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
export const incoming: Failure = (what, issues, cause) =>
  new ContractViolation(
    "BAD_REQUEST",
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
export const badReply: Failure = (what, issues, cause) =>
  new ContractViolation(
    "BAD_REPLY",
    `${what} does not match the contract: ${issues.join("; ")}`,
    cause === undefined ? undefined : { cause },
  );
export const replyAtCaller: Failure = (what, issues, cause) =>
  new RemoteError(
    `${what} does not match the contract: ${issues.join("; ")}`,
    "BAD_REPLY",
    cause === undefined ? undefined : { cause },
  );
