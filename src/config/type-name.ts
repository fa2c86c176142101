/** Values named in error messages: what type a wrong value is, or the value itself when it is short. */

/**
 * What a value is, for messages: `a string`, `a number`, `an object`, `an
 * array`, `null`, `undefined`, or its class: `a Promise`, `an ArrayBuffer`.
 */
export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") {
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `${/^[AEIO]/.test(name) ? "an" : "a"} ${name}` : "an object";
  }
  const t = typeof value;
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

/**
 * A wrong value as a message shows it: a string quoted (cut at 40
 * characters), a number, boolean, bigint or `undefined` as written, anything
 * else by its type ({@link typeName}), never `[object Object]`.
 */
export function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number" || typeof value === "boolean" || value === undefined) return String(value);
  return typeName(value);
}
