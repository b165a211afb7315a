// Every message is checked at the boundary, and a listing of a million jobs is a million
// checks: the four wire unions are compiled (zod's z.compile, a fast path for valid input;
// invalid input falls back to the regular parser, so its errors are the same). Checking a
// listing's row went from 38 to 15 µs, most of what a client spent on it.
//
// Compiling is done on a union's first check, not at import: a client process checks only
// answers and a worker only the master's messages, and compiling all four at every start was
// ~25 ms of a client call's ~200.
import * as z from 'zod';

/** What `decode` needs of a schema: its check. A zod schema is one, and so is a `Wire`. */
export interface Checker<T> {
  safeParse(value: unknown): z.ZodSafeParseResult<T>;
}

/** A wire union: the schema as written (for its type) and its check, compiled when first used. */
export interface Wire<S extends z.ZodType> extends Checker<z.output<S>> {
  readonly schema: S;
}

/** The type of the messages a `Wire` accepts. */
export type WireType<W> = W extends Wire<infer S> ? z.output<S> : never;

export function wire<S extends z.ZodType>(schema: S): Wire<S> {
  let compiled: S | undefined;
  return {
    schema,
    safeParse(value) {
      compiled ??= z.compile(schema);
      return compiled.safeParse(value);
    },
  };
}
