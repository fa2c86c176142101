/**
 * Argument validation, done once at each public method before any network I/O.
 * Every failure is an {@link InvalidArgumentError} naming the bad argument.
 */

import { InvalidArgumentError } from "../errors/index.js";
import { DEFAULTS } from "./defaults.js";
import { showValue } from "./type-name.js";

const NAME = /^[A-Za-z0-9_-]{1,128}$/;
const NAMESPACE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** A cluster or topic name: one NATS-safe token, `[A-Za-z0-9_-]{1,128}`. */
export function validateName(what: string, value: unknown): string {
  if (typeof value !== "string" || !NAME.test(value)) {
    throw new InvalidArgumentError(`${what} must be 1-128 characters of [A-Za-z0-9_-], got ${showValue(value)}`);
  }
  return value;
}

/** A namespace: one or more name tokens joined by dots. */
export function validateNamespace(value: unknown): string {
  if (typeof value !== "string" || value.length > 128 || !NAMESPACE.test(value)) {
    throw new InvalidArgumentError(
      `namespace must be dot-separated tokens of [A-Za-z0-9_-], at most 128 characters, got ${showValue(value)}`,
    );
  }
  return value;
}

/**
 * A time-out in ms: an integer >= 1 (or 0 where `zeroMeansForever`), at most
 * 2^31 - 1. `undefined` gives `fallback`.
 */
export function validateTimeout(what: string, value: unknown, fallback: number, zeroMeansForever = false): number {
  if (value === undefined) return fallback;
  const min = zeroMeansForever ? 0 : 1;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > DEFAULTS.maxTimeout) {
    throw new InvalidArgumentError(
      `${what} must be an integer >= ${min} ms${zeroMeansForever ? " (0 waits forever)" : ""} and <= ${DEFAULTS.maxTimeout}, got ${showValue(value)}`,
    );
  }
  return value;
}

/** Bytes to send. Any Uint8Array (a Buffer is one) is accepted as it is. */
export function validatePayload(what: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new InvalidArgumentError(`${what} must be a Uint8Array, got ${showValue(value)}`);
  }
  return value;
}

/** An optional AbortSignal. */
export function validateSignal(value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new InvalidArgumentError(`signal must be an AbortSignal, got ${showValue(value)}`);
  }
  return value;
}

/** A plain options object (or undefined) whose keys are all in `known`. */
export function validateOptions<T extends object>(what: string, value: unknown, known: readonly string[]): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgumentError(`${what} must be an object, got ${showValue(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(`${what} has an unknown key ${showValue(key)}; known keys: ${known.join(", ")}`);
    }
  }
  return value as Partial<T>;
}

/**
 * A limits object: every key in `defaults`, each a positive safe integer.
 * Missing keys take the default; unknown keys are an error (a typo).
 */
export function validateLimits<T extends Record<string, number>>(what: string, value: unknown, defaults: T): T {
  const given = validateOptions<T>(what, value, Object.keys(defaults));
  const out: Record<string, number> = { ...defaults };
  for (const [key, v] of Object.entries(given)) {
    if (v === undefined) continue;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
      throw new InvalidArgumentError(`${what}.${key} must be a positive integer, got ${showValue(v)}`);
    }
    out[key] = v;
  }
  return out as T;
}

/** A handler object: an object whose listed keys, where present, are functions. */
export function validateHandler(what: string, value: unknown, methods: readonly string[]): void {
  if (typeof value !== "object" || value === null) {
    throw new InvalidArgumentError(`${what} must be an object with handler methods, got ${showValue(value)}`);
  }
  for (const m of methods) {
    const fn = (value as Record<string, unknown>)[m];
    if (fn !== undefined && typeof fn !== "function") {
      throw new InvalidArgumentError(`${what}.${m} must be a function, got ${showValue(fn)}`);
    }
  }
}
