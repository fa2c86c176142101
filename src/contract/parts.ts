/**
 * The parts of a contract: each kind of value it carries (request, reply,
 * broadcast, each method's request and reply, or event), checked by its
 * schema and encoded by the codec, and the registry that keeps them for
 * every contract made by contract() or topicContract().
 */
import type { Schema, ServiceContract, TopicContract } from "../api/index.js";
import { InvalidArgumentError } from "../errors/index.js";
import type { Codec } from "./codec.js";
import type { Failure } from "./failures.js";
import { type Check, type Checked, checkerOf } from "./schema.js";

const EMPTY = new Uint8Array(0);

/** One kind of value of a contract: its schema's check and the codec. */
export class Part {
  readonly declared: boolean;
  readonly #check: Check | undefined;

  constructor(
    readonly what: string,
    schema: Schema | undefined,
    readonly codec: Codec,
  ) {
    this.declared = schema !== undefined;
    if (schema === undefined) return;
    try {
      this.#check = checkerOf(schema);
    } catch (err) {
      throw new InvalidArgumentError(
        `the schema of the ${what} is not a valid JSON Schema: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Checks and encodes `value`; throws `fail`'s error when it does not match. */
  encode(value: unknown, fail: Failure): Uint8Array | Promise<Uint8Array> {
    const check = this.#check;
    if (check === undefined) {
      if (value === undefined) return EMPTY;
      throw fail(this.what, ["the contract declares none, so nothing may be given"]);
    }
    const r = check(value);
    return r instanceof Promise
      ? r.then((c) => this.#encodeChecked(c, value, fail))
      : this.#encodeChecked(r, value, fail);
  }

  /** Decodes and checks `bytes`; throws `fail`'s error when they do not match. */
  decode(bytes: Uint8Array, fail: Failure): unknown {
    const check = this.#check;
    if (check === undefined) return undefined;
    let value: unknown;
    try {
      value = this.codec.decode(bytes);
    } catch (err) {
      throw fail(this.what, [`is not valid ${this.codec.name}: ${(err as Error).message}`], err);
    }
    const r = check(value);
    return r instanceof Promise ? r.then((c) => this.#checked(c, fail)) : this.#checked(r, fail);
  }

  /** Encodes `value` as given: the receiver checks it again, and applies the schema's transforms then. */
  #encodeChecked(r: Checked, value: unknown, fail: Failure): Uint8Array {
    if (!r.ok) throw fail(this.what, r.issues);
    try {
      return this.codec.encode(value);
    } catch (err) {
      throw fail(this.what, [`cannot be encoded as ${this.codec.name}: ${(err as Error).message}`], err);
    }
  }

  #checked(r: Checked, fail: Failure): unknown {
    if (!r.ok) throw fail(this.what, r.issues);
    return r.value;
  }
}

export interface ServiceParts {
  request: Part;
  reply: Part;
  broadcast: Part;
  /** The contract's methods, by name (empty when it has none). */
  methods: ReadonlyMap<string, MethodParts>;
}

/** One method of a service contract: its requests and replies. */
export interface MethodParts {
  request: Part;
  reply: Part;
}

export interface TopicParts {
  event: Part;
}

const parts = new WeakMap<object, ServiceParts | TopicParts>();

/** Keeps the parts of `c`, a contract just made. */
export function setParts(c: ServiceContract, p: ServiceParts): void;
export function setParts(c: TopicContract, p: TopicParts): void;
export function setParts(c: ServiceContract | TopicContract, p: ServiceParts | TopicParts): void {
  parts.set(c, p);
}

/** Whether `value` has parts kept here, that is, was made by contract() or topicContract(). */
export function hasParts(value: object): boolean {
  return parts.has(value);
}

export function serviceParts(c: ServiceContract): ServiceParts {
  return parts.get(c) as ServiceParts;
}

export function topicParts(c: TopicContract): TopicParts {
  return parts.get(c) as TopicParts;
}
