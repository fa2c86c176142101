/**
 * A copy of `bytes` in memory of its own. Bytes from the NATS client are
 * often Node Buffers viewing the socket's read buffer, and `Buffer#slice`
 * does not copy: it is another view, which keeps the whole read buffer alive.
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out;
}
