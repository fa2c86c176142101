/**
 * The half-close of a tunnel end (`tun.end()`): whether this end has ended
 * its sending and its END frame is stored, whether the other end's END has
 * arrived in order, and the one moment both have, when the tunnel closes by
 * itself. State only: the tunnel end sends, reads and releases.
 */
import { ClosedError } from "../errors/index.js";

export class HalfClose {
  /** What `end()` returned here; set once it was called (sends then reject). */
  ending: Promise<void> | undefined;
  /** This end's END frame, and every frame before it, are stored. */
  #stored = false;
  /** The other end's END arrived, in order: `recv` rejects with this once the messages before it are read. */
  #there: ClosedError | undefined;
  #both = false;

  /** Whether `end()` was called here: no message is sent any more. */
  get sendEnded(): boolean {
    return this.ending !== undefined;
  }

  /** The other end ended: what `recv` rejects with once every message before its END is read. */
  get endedThere(): ClosedError | undefined {
    return this.#there;
  }

  /** Both ends have ended (the tunnel closed by itself). */
  get bothEnded(): boolean {
    return this.#both;
  }

  /** This end's END is stored; true when that makes both ends ended (once). */
  stored(): boolean {
    this.#stored = true;
    return this.#finish();
  }

  /** The other end's END arrived; true when that makes both ends ended (once). */
  arrived(): boolean {
    if (this.#there !== undefined) return false;
    this.#there = new ClosedError("the other end ended the tunnel: it sends nothing more");
    return this.#finish();
  }

  /**
   * Whether the other end, silent, is done rather than gone, from the last
   * frame it stored: its close; or its end, once this end's is stored too
   * (it closed by itself, and this end reads up to its end). An end that
   * ended alone still reads, so its silence means it is gone.
   */
  doneThere(last: "close" | "end" | undefined): boolean {
    return last === "close" || (last === "end" && this.#stored);
  }

  /** What a `send` after `end()` rejects with. */
  sendError(): ClosedError {
    return new ClosedError("send: this end ended the tunnel (end()); it sends nothing more, and still receives");
  }

  #finish(): boolean {
    if (this.#both || !this.#stored || this.#there === undefined) return false;
    this.#both = true;
    return true;
  }
}
