/**
 * What jetmesh reads of the NATS client's own message class (`MsgImpl` of
 * `@nats-io/nats-core`, not public API), to skip decoding on the hottest
 * paths: the bytes of headers and payload (`_rdata`), where the headers end
 * (`_msg.hdr`, -1 for none) and the subject's bytes (`_msg.subject`). Every
 * reader of these falls back to the public `Msg` when they are not there (a
 * client version that moved them, a message made elsewhere), and unit tests
 * run them on the installed client's own messages.
 */
import type { Msg } from "@nats-io/nats-core";

export interface ClientMsg {
  readonly _msg?: { readonly hdr?: unknown; readonly subject?: unknown };
  readonly _rdata?: unknown;
}

/** Tokens this long or longer are read through `msg.subject`. */
const MAX_TAIL = 16;
const ASCII_END = 0x80;

/**
 * `msg.subject.slice(from)`, read from the subject's bytes without decoding
 * the whole subject: a reply's token after the connection's inbox prefix.
 * Done for speed: the client decodes a subject with a TextDecoder call,
 * which costs more than the rest of matching a reply to its call.
 */
export function subjectFrom(msg: Msg, from: number): string {
  const bytes = (msg as unknown as ClientMsg)._msg?.subject;
  if (bytes instanceof Uint8Array && bytes.length >= from && bytes.length - from < MAX_TAIL) {
    let tail = "";
    let i = from;
    for (; i < bytes.length; i++) {
      const c = bytes[i] as number;
      if (c >= ASCII_END) break;
      tail += String.fromCharCode(c);
    }
    if (i === bytes.length) return tail;
  }
  return msg.subject.slice(from);
}
