/** Bytes in --json output: as text when they can be, else as base64. */

/** Bytes as JSON: text when they are UTF-8, else base64. */
export function jsonBytes(bytes: Uint8Array): { data: string } | { base64: string } {
  try {
    return { data: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString("base64") };
  }
}
