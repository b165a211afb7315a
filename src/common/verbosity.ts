// How much a q process says (-verbose N, as in fig): 0 only warnings and errors, 1 (the
// default) also what happens to jobs and workers, 2 also every message on the wire, both
// ways. A Log is called for an ordinary line, `warn` for one that must reach a quiet user,
// `trace` for a wire message; lines below the level cost one comparison.
import { ErrorCodes, QError } from './errors.js';

export const Verbosity = { QUIET: 0, NORMAL: 1, TRACE: 2 } as const;
export type Verbosity = (typeof Verbosity)[keyof typeof Verbosity];

export interface Log {
  (line: string): void;
  warn(line: string): void;
  trace(line: string): void;
  /** Whether trace lines are written: build one only if so. */
  readonly tracing: boolean;
}

/** -verbose's value: 0, 1 or 2 (fig's 3 and more mean 2). */
export function parseVerbosity(value: string | undefined): Verbosity {
  if (value === undefined) return Verbosity.NORMAL;
  if (!/^\d+$/.test(value)) throw new QError(ErrorCodes.BAD_VALUE, `-verbose takes 0, 1 or 2, not '${value}'`);
  return Math.min(Number(value), Verbosity.TRACE) as Verbosity;
}

/** `warn`: how a warning is written, where it must not wait as other lines may (common/turnLines.ts). */
export function makeLog(level: Verbosity, write: (line: string) => void, warn: (line: string) => void = write): Log {
  const log = ((line: string) => {
    if (level >= Verbosity.NORMAL) write(line);
  }) as Log;
  log.warn = (line) => warn(line);
  log.trace = (line) => {
    if (level >= Verbosity.TRACE) write(line);
  };
  Object.defineProperty(log, 'tracing', { value: level >= Verbosity.TRACE });
  return log;
}

/** A log at the default level (tests, embedders). */
export const normalLog = (write: (line: string) => void): Log => makeLog(Verbosity.NORMAL, write);

/** A log that writes nothing. */
export const silentLog: Log = makeLog(Verbosity.QUIET, () => {});

const TRACE_CHARS = 300;

/**
 * One trace line for a frame: direction (→ sent, ← received), the peer, and the frame's
 * text cut to a few hundred characters with its size, so a listing's page is one line.
 */
export function traceLine(dir: '→' | '←', peer: string, frame: string | Buffer): string {
  const text = typeof frame === 'string' ? frame : frame.toString('utf8', 0, TRACE_CHARS + 1);
  const size = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
  const shown = text.length > TRACE_CHARS ? `${text.slice(0, TRACE_CHARS)}… (${size} bytes)` : text;
  return `${dir} ${peer} ${shown}`;
}
