/** The Standard Schema interface (standardschema.dev), as Zod, Valibot and ArkType implement it. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** A JSON Schema object (write it `as const` to have its type inferred). */
export type JsonSchema = { readonly [keyword: string]: unknown } | boolean;

/** A JSON Schema with a type given explicitly, from {@link schema}. */
export interface TypedSchema<T> {
  readonly [keyword: string]: unknown;
  /** Never present: carries `T` for the type checker. */
  readonly " type"?: T;
}

/** Anything a contract takes as a schema. */
export type Schema = JsonSchema | StandardSchemaV1;

/**
 * The TypeScript type of values a schema accepts: a Standard Schema's output,
 * a TypeBox schema's static type, the type given to {@link schema}, or the type
 * read off a JSON Schema written `as const` (`type`, `properties`,
 * `required`, `additionalProperties`, `items`, `enum`, `const`, `anyOf`,
 * `oneOf`, `nullable` types; anything else is `unknown`).
 */
export type Infer<S> =
  S extends StandardSchemaV1<unknown, infer O>
    ? O
    : S extends { readonly " type"?: infer T }
      ? unknown extends T
        ? S extends { readonly static: infer U }
          ? U
          : FromJsonSchema<S>
        : T
      : S extends { readonly static: infer U }
        ? U
        : FromJsonSchema<S>;

/**
 * The type of values a schema takes in: as {@link Infer}, but a Standard
 * Schema's input (what callers give, before its transforms).
 */
export type InferInput<S> = S extends StandardSchemaV1<infer I, unknown> ? I : Infer<S>;

/** The type a JSON Schema written `as const` describes (see {@link Infer}). */
export type FromJsonSchema<S> = S extends true
  ? unknown
  : S extends false
    ? never
    : S extends { readonly const: infer C }
      ? C
      : S extends { readonly enum: readonly (infer E)[] }
        ? E
        : S extends { readonly anyOf: readonly (infer A)[] }
          ? FromJsonSchema<A>
          : S extends { readonly oneOf: readonly (infer A)[] }
            ? FromJsonSchema<A>
            : S extends { readonly type: readonly (infer T)[] }
              ? FromType<T, S>
              : S extends { readonly type: infer T }
                ? FromType<T, S>
                : unknown;

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>;
    };

type Simplify<T> = { [K in keyof T]: T[K] } & {};

type FromType<T, S> = T extends "string"
  ? string
  : T extends "number" | "integer"
    ? number
    : T extends "boolean"
      ? boolean
      : T extends "null"
        ? null
        : T extends "array"
          ? S extends { readonly items: infer I }
            ? FromJsonSchema<I>[]
            : unknown[]
          : T extends "object"
            ? FromObject<S>
            : unknown;

type RequiredKeys<S> = S extends { readonly required: readonly (infer R)[] } ? R : never;

type FromObject<S> = S extends { readonly properties: infer P }
  ? Simplify<
      { -readonly [K in keyof P as K extends RequiredKeys<S> ? K : never]: FromJsonSchema<P[K]> } & {
        -readonly [K in keyof P as K extends RequiredKeys<S> ? never : K]?: FromJsonSchema<P[K]> | undefined;
      } & (S extends { readonly additionalProperties: false } ? unknown : { [key: string]: unknown })
    >
  : { [key: string]: unknown };
