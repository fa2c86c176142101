/** Every header name jetmesh reads or writes, in one place. */
export const HEADER = {
  /** Human-readable error message of a failed request (micro protocol). */
  serviceError: "Nats-Service-Error",
  /** Error code of a failed request (micro protocol). */
  serviceErrorCode: "Nats-Service-Error-Code",
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

/** NATS status code of a "no responders" answer. */
export const NO_RESPONDERS_STATUS = 503;
