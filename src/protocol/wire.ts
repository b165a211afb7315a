// Every message is checked at the boundary, and a listing of a million jobs is a million
// checks: the four wire unions' variants are compiled (zod's z.compile, a fast path for valid
// input; checking a listing's row went from 38 to 15 µs, most of what a client spent on it).
//
// A variant is compiled when the first message of its type is checked, not the whole union
// at once: a client call checks one or two types of answer, and compiling all of the
// answers' union was ~40 ms of the time to a -list's first row (the union's 15 variants; the
// rows' alone is a few ms). A message that fails its variant's check, or names no type, is
// checked again by the union as written, so its errors are the union's.
import * as z from 'zod';

/** What `decode` needs of a schema: its check. A zod schema is one, and so is a `Wire`. */
export interface Checker<T> {
  safeParse(value: unknown): z.ZodSafeParseResult<T>;
}

/** The wire unions: objects told apart by their `type` literal. */
type Union = z.ZodDiscriminatedUnion<readonly z.ZodObject<{ type: z.ZodLiteral<string> }>[], 'type'>;

/** A wire union: the schema as written (for its type) and its check, compiled a variant at a time. */
export interface Wire<S extends Union> extends Checker<z.output<S>> {
  readonly schema: S;
  /** How many variants have been compiled so far (each is compiled once, when first used). */
  readonly compiled: number;
}

/** The type of the messages a `Wire` accepts. */
export type WireType<W> = W extends Wire<infer S> ? z.output<S> : never;

export function wire<S extends Union>(schema: S): Wire<S> {
  const variants = new Map<unknown, z.ZodType>();
  for (const option of schema.options) for (const t of option.shape.type.values) variants.set(t, option);
  const compiled = new Map<unknown, z.ZodType>();
  return {
    schema,
    get compiled() {
      return compiled.size;
    },
    safeParse(value) {
      const type = typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
      const variant = variants.get(type);
      if (variant) {
        let check = compiled.get(type);
        if (!check) compiled.set(type, (check = z.compile(variant)));
        const r = check.safeParse(value) as z.ZodSafeParseResult<z.output<S>>;
        if (r.success) return r;
      }
      return schema.safeParse(value);
    },
  };
}
