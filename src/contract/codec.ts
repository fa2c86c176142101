/** How a contract's values become bytes: MessagePack (the default) or JSON. */
import { Decoder, Encoder, type ExtData, ExtensionCodec } from "@msgpack/msgpack";
import type { CodecName } from "../api/index.js";

export interface Codec {
  readonly name: CodecName;
  encode(value: unknown): Uint8Array;
  /** Throws when the bytes are not a value of this codec. */
  decode(bytes: Uint8Array): unknown;
}

const EMPTY = new Uint8Array(0);

/**
 * Contracts carry JSON values, whatever the codec: no msgpack extension types
 * (a Date would arrive as a Date with msgpack but as a string with JSON, and
 * pass a schema of `type: "object"`), so both directions refuse them.
 */
class JsonValuesOnly extends ExtensionCodec<undefined> {
  override tryToEncode(object: unknown): ExtData | null {
    if (object instanceof Date) throw new TypeError("a Date is not a JSON value: send its toISOString()");
    return null;
  }
  override decode(_data: Uint8Array, type: number): unknown {
    throw new TypeError(`msgpack extension type ${type} is not a JSON value`);
  }
}

const extensionCodec = new JsonValuesOnly();

/** One encoder and decoder for the whole process: both are synchronous, so they are never used twice at once. */
const packer = new Encoder({ extensionCodec, ignoreUndefined: true });
const unpacker = new Decoder({ extensionCodec });

const msgpack: Codec = {
  name: "msgpack",
  encode: (value) => packer.encode(value),
  decode: (bytes) => (bytes.byteLength === 0 ? undefined : unpacker.decode(bytes)),
};

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

const json: Codec = {
  name: "json",
  encode: (value) => {
    const text = JSON.stringify(value);
    return text === undefined ? EMPTY : textEncoder.encode(text);
  },
  decode: (bytes) => (bytes.byteLength === 0 ? undefined : JSON.parse(textDecoder.decode(bytes))),
};

export const CODECS: Readonly<Record<CodecName, Codec>> = { msgpack, json };
