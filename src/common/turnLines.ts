// A master's or worker's log lines go out once a turn of the event loop, a few writes in all:
// to a pipe or a file, console.log is a synchronous write each, and 1,000 lines written one by
// one took 30 ms of the loop, against 0.7 ms as one write (1,000 workers disconnecting at once
// are 1,000 lines in one turn). A write holds at most PIPE_BUF bytes of whole lines, so that
// it stays whole in a pipe that another process writes too (a -localWorker shares the
// master's). Lines wait for the end of their turn at most: a warning goes out at once, after
// what waits before it, and a process that exits by process.exit or an uncaught error writes
// what waits first ('exit'). A process killed outright loses the lines of its last turn.

import { makeLog, type Log, type Verbosity } from './verbosity.js';

/** What a pipe writes whole (POSIX's least PIPE_BUF; Linux's). */
const PIPE_BUF = 4096;

const pending = new Set<() => void>();
let hooked = false;
/** Past 'exit' no turn comes: a line is written at once. */
let exiting = false;

export interface TurnLines {
  /** A line, written at the end of this turn. */
  line: (line: string) => void;
  /** A line written now, after the lines waiting before it. */
  now: (line: string) => void;
}

/** Lines gathered a turn at a time and handed to `write` as texts of whole lines (no final newline). */
export function linesByTurn(write: (text: string) => void): TurnLines {
  let lines: string[] = [];
  const flush = () => {
    pending.delete(flush);
    const all = lines;
    lines = [];
    for (let i = 0; i < all.length; ) {
      let bytes = Buffer.byteLength(all[i]!) + 1;
      let j = i + 1;
      for (; j < all.length; j++) {
        const more = Buffer.byteLength(all[j]!) + 1;
        if (bytes + more > PIPE_BUF) break;
        bytes += more;
      }
      write(all.slice(i, j).join('\n'));
      i = j;
    }
  };
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      exiting = true;
      [...pending].forEach((f) => f());
    });
  }
  const now = (line: string) => {
    lines.push(line);
    flush();
  };
  const line = (line: string) => {
    if (exiting) return now(line);
    if (lines.push(line) > 1) return;
    pending.add(flush);
    setImmediate(flush);
  };
  return { line, now };
}

/** A master's or worker's log: its stdout, a turn at a time, warnings at once. */
export function logByTurn(level: Verbosity): Log {
  const out = linesByTurn((text) => console.log(text));
  return makeLog(level, out.line, out.now);
}
