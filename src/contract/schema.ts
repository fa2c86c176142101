/**
 * Schemas of the typed layer: JSON Schema (checked with ajv, compiled once per
 * schema object), TypeBox schemas (JSON Schema with a static type), and any
 * Standard Schema library (Zod, Valibot, ArkType), checked by its own
 * `~standard.validate`.
 */
import { Ajv, type AnySchema, type ErrorObject, type ValidateFunction } from "ajv";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { JsonSchema, Schema, StandardResult, StandardSchemaV1, TypedSchema } from "../api/index.js";

/**
 * Gives a JSON Schema an explicit TypeScript type, for schemas whose type
 * cannot be inferred (or should be written by hand).
 *
 * @example
 * ```ts
 * interface Order { id: string; qty: number }
 * const OrderSchema = schema<Order>({ type: "object", required: ["id", "qty"], properties: { ... } });
 * ```
 */
export function schema<T>(jsonSchema: JsonSchema): TypedSchema<T> {
  return jsonSchema as TypedSchema<T>;
}

/** The outcome of checking one value: the value (a Standard Schema may transform it), or what is wrong with it. */
export type Checked = { ok: true; value: unknown } | { ok: false; issues: string[] };

/** Checks values against one schema; a Standard Schema may answer asynchronously. */
export type Check = (value: unknown) => Checked | Promise<Checked>;

// ajv-formats is CommonJS whose module.exports is the plugin itself
const addFormats = addFormatsModule as unknown as (ajv: Ajv | Ajv2019 | Ajv2020) => void;

/**
 * Every error listed; unknown keywords and formats of other vocabularies
 * allowed; NaN and Infinity refused (no codec carries them as numbers);
 * schemas not kept by `$id` (ajv would refuse a second schema with one).
 * ajv keeps what it compiled, so contracts are meant to be made once.
 */
const OPTIONS = { allErrors: true, strict: false, strictNumbers: true, addUsedSchema: false } as const;

const dialects = new Map<string, Ajv | Ajv2019 | Ajv2020>();

function ajvFor(s: Record<string, unknown>): Ajv | Ajv2019 | Ajv2020 {
  const $schema = typeof s.$schema === "string" ? s.$schema : "";
  const dialect = $schema.includes("2020-12") ? "2020-12" : $schema.includes("2019-09") ? "2019-09" : "draft-07";
  let ajv = dialects.get(dialect);
  if (ajv === undefined) {
    ajv =
      dialect === "2020-12" ? new Ajv2020(OPTIONS) : dialect === "2019-09" ? new Ajv2019(OPTIONS) : new Ajv(OPTIONS);
    addFormats(ajv);
    dialects.set(dialect, ajv);
  }
  return ajv;
}

const compiled = new WeakMap<object, Check>();

/** Whether `s` is a Standard Schema. */
function isStandard(s: unknown): s is StandardSchemaV1 {
  return (
    (typeof s === "object" || typeof s === "function") &&
    s !== null &&
    typeof (s as Partial<StandardSchemaV1>)["~standard"]?.validate === "function"
  );
}

/**
 * The check of `s`, compiled once per schema object. Throws (with ajv's
 * message) when `s` is not a schema ajv can compile.
 */
export function checkerOf(s: Schema): Check {
  if (typeof s === "boolean")
    return s ? (value) => ({ ok: true, value }) : () => ({ ok: false, issues: ["/ is refused by the schema false"] });
  const known = compiled.get(s);
  if (known) return known;
  let check: Check;
  if (isStandard(s)) {
    const validate = s["~standard"].validate;
    check = (value) => {
      const r = validate(value);
      return r instanceof Promise ? r.then(fromStandard) : fromStandard(r);
    };
  } else {
    const validate: ValidateFunction = ajvFor(s).compile(s as AnySchema);
    check = (value) =>
      validate(value) ? { ok: true, value } : { ok: false, issues: (validate.errors ?? []).map(describeAjv) };
  }
  compiled.set(s, check);
  return check;
}

function fromStandard(r: StandardResult<unknown>): Checked {
  if (r.issues === undefined) return { ok: true, value: r.value };
  return {
    ok: false,
    issues: r.issues.map((i) => {
      const path = (i.path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join("/");
      return `/${path} ${i.message}`;
    }),
  };
}

function describeAjv(e: ErrorObject): string {
  const extra =
    e.keyword === "additionalProperties"
      ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})`
      : e.keyword === "enum"
        ? ` (${JSON.stringify((e.params as { allowedValues?: unknown }).allowedValues)})`
        : "";
  return `${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
}
