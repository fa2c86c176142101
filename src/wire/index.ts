/** What travels on the wire: subjects, headers, ack subjects, reply errors, payload limits, copies of socket bytes. */
export { parseAckSubject } from "./ack-subject.js";
export { subjectFrom } from "./client-msg.js";
export { copyBytes } from "./copy-bytes.js";
export { FrozenHeaders } from "./frozen-headers.js";
export { ERROR_KIND, HEADER, NO_RESPONDERS_STATUS } from "./headers.js";
export { checkPayloadSize, maxDelivery, maxPayload, payloadLimit } from "./max-payload.js";
export { codeOf, type ErrorKind, errorHeaders, errorOfReply } from "./reply-errors.js";
export { pullSubject, REQUEST_QUEUE, type Subjects, subjects } from "./subjects.js";
export { parseTimeoutHeader, soleTimeout } from "./timeout-header.js";
