/** Every header name jetmesh reads or writes, in one place. */
export const HEADER = {
  /** Human-readable error message of a failed request (micro protocol). */
  serviceError: "Nats-Service-Error",
  /** Error code of a failed request (micro protocol): always a number, an HTTP-like status (see {@link ERROR_STATUS}). */
  serviceErrorCode: "Nats-Service-Error-Code",
  /** The error's own code, when it is not a number: a handler's `code` (`E_NOT_FOUND`), or jetmesh's kind. */
  errorCode: "Jetmesh-Error-Code",
  /** jetmesh's kind of a failed request: one of {@link ERROR_KIND}. */
  errorKind: "Jetmesh-Error",
  /** The caller's remaining time in ms when it sent the request. */
  timeout: "Jetmesh-Timeout",
  /** JetStream's de-duplication id of a published event. */
  msgId: "Nats-Msg-Id",
  /** Events still to come on a pull request that ended (JetStream status). */
  pendingMessages: "Nats-Pending-Messages",
  /** The last delivery sequence of a consumer, on its idle heartbeats. */
  lastConsumerSeq: "Nats-Last-Consumer",
  /** The member that sent a gather answer (its id). */
  member: "Jetmesh-Member",
  /** On a member's first answer to a gather, `ack`: it got the request; its reply follows. */
  gather: "Jetmesh-Gather",
} as const;

/** Values of the {@link HEADER.errorKind} header. */
export const ERROR_KIND = {
  /** The handler threw. */
  remote: "REMOTE",
  /** The member's request queue was full. */
  overloaded: "OVERLOADED",
  /** The member is going away; the request was not handled (sent by jetmesh before 0.2, read as {@link ERROR_KIND.left}). */
  closed: "CLOSED",
  /** The member left before a handler took the request: never handled, safe to send again. */
  left: "MEMBER_LEFT",
  /** The member left while the handler was still running: it may have had effects. */
  abandoned: "ABANDONED",
  /** The request could not be understood (bad headers). */
  badRequest: "BAD_REQUEST",
  /** The handler returned something that is not bytes. */
  badReply: "BAD_REPLY",
  /** The handler returned more bytes than the server's max payload. */
  replyTooLarge: "REPLY_TOO_LARGE",
} as const;

/**
 * The numeric `Nats-Service-Error-Code` of each kind, as the micro protocol
 * asks ("always safe to parse as a number"): a handler's own numeric code
 * travels as is; anything else is 500.
 */
export const ERROR_STATUS: Readonly<Record<(typeof ERROR_KIND)[keyof typeof ERROR_KIND], number>> = {
  REMOTE: 500,
  OVERLOADED: 429,
  CLOSED: 503,
  MEMBER_LEFT: 503,
  ABANDONED: 503,
  BAD_REQUEST: 400,
  BAD_REPLY: 500,
  REPLY_TOO_LARGE: 500,
};

/** NATS status code of a "no responders" answer. */
export const NO_RESPONDERS_STATUS = 503;
