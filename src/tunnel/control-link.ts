/**
 * The control channel of one tunnel end over core NATS: its own control
 * messages out, and the other end's in, decoded. Runs inside a NATS callback,
 * so it never throws: what cannot be read is reported as malformed.
 */
import type { Msg, Subscription } from "@nats-io/nats-core";
import type { Wiring } from "../core/index.js";
import { fromNatsError, type JetmeshError, PermissionError } from "../errors/index.js";
import { type Control, decodeControl } from "./control.js";

/** What the tunnel end does with what arrives. */
export interface ControlSink {
  /** False once the end has ended: nothing more is read. */
  readonly open: boolean;
  /** A control message of the other end. */
  control(c: Control): void;
  /** Something arrived that is not a control message. */
  malformed(why: string): void;
  /** Something went wrong that the end cannot act on (logged). */
  warn(context: object, message: string): void;
  /** The server refuses this end's control messages, in or out (a `PermissionError`): the tunnel cannot work. */
  refused(err: JetmeshError): void;
}

export class ControlLink {
  #sub: Subscription | undefined;
  #unwatch: (() => void) | undefined;

  constructor(
    private readonly rt: Wiring,
    private readonly subjects: { controlIn: string; controlOut: string },
    private readonly sink: ControlSink,
  ) {}

  /** Starts reading the other end's control messages (and watching for refusals of its own). */
  listen(): void {
    const out = this.subjects.controlOut;
    this.#unwatch = this.rt.denials.watch(
      (subject) => subject === out,
      (violation) => this.sink.refused(fromNatsError(violation, "tunnel control")),
    );
    this.#sub = this.rt.nc.subscribe(this.subjects.controlIn, { callback: (err, msg) => this.#arrived(err, msg) });
  }

  /** Sends one control message (best effort: on a closed connection the tunnel ends with it). */
  send(text: string): void {
    try {
      this.rt.nc.publish(this.subjects.controlOut, text);
    } catch {
      // closed connection
    }
  }

  /** Stops reading. */
  stop(): void {
    this.#unwatch?.();
    try {
      this.#sub?.unsubscribe();
    } catch {
      // closed connection
    }
  }

  #arrived(err: Error | null, msg: Msg): void {
    try {
      if (err) {
        const why = fromNatsError(err, "tunnel control");
        if (why instanceof PermissionError) this.sink.refused(why);
        else this.sink.warn({ err }, "tunnel control subscription failed");
        return;
      }
      if (!this.sink.open) return;
      const c = decodeControl(msg.data);
      if (typeof c === "string") this.sink.malformed(c);
      else this.sink.control(c);
    } catch (error) {
      this.sink.warn({ err: error }, "tunnel control message could not be handled");
    }
  }
}
