import { MsgHdrsImpl } from "@nats-io/nats-core";

/**
 * Headers that never change once built, encoded once and reused for every
 * message that carries them (the client encodes headers on every publish).
 */
export class FrozenHeaders extends MsgHdrsImpl {
  #encoded: Uint8Array | undefined;

  static of(entries: Record<string, string>): FrozenHeaders {
    const h = new FrozenHeaders();
    for (const [k, v] of Object.entries(entries)) h.set(k, v);
    h.#encoded = MsgHdrsImpl.prototype.encode.call(h);
    return h;
  }

  override encode(): Uint8Array {
    return this.#encoded ?? super.encode();
  }

  override set(k: string, v: string): void {
    if (this.#encoded !== undefined) throw new TypeError("frozen headers cannot change");
    super.set(k, v);
  }
}
