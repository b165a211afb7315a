// Job handles, J- and six of [0-9a-z] as fig's q made them, numbered in the order jobs come
// rather than drawn at random.
//
// Why: `handle` is a unique index. A random handle lands on a random leaf of it, so an add of
// 250 jobs to a table of a million dirtied some 250 index pages (a megabyte of WAL) where every
// other index dirtied a few; the WAL, its checkpoints and their fsyncs were three times what the
// rows need. Numbered handles append to the index like the other keys do.
//
// Handle of row `seq` = base36(base + STRIDE·seq mod 36^6), six digits:
// - `base` is drawn once per database (meta, migration 13), so the handles of another master,
//   or of this one before a fresh start, are elsewhere in the space: a handle kept by CodaLab or
//   a script does not come to name some other job.
// - STRIDE is prime, and larger than any digit: a handle with one character typed wrong, or two
//   neighbouring ones swapped, differs from a real one by d·36^p or d·35·36^p (|d| < 36), never a
//   multiple of 37, so it names no job of this database (for the first 36^6/37, 58 million, jobs).
// - seq is AUTOINCREMENT, never reused: a deleted job's handle is never given again.
// A table from before holds random handles; where one is in the way, that job gets a random one.
import { customAlphabet } from 'nanoid';
import type { Db } from './db.js';
import { BASE36 } from '../common/ids.js';

const SPACE = 36 ** 6;
export const STRIDE = 37;
const randomDigits = customAlphabet(BASE36, 6);

export function handleOf(base: number, seq: number): string {
  return `J-${((base + STRIDE * seq) % SPACE).toString(36).padStart(6, '0')}`;
}

/** A handle off the numbering, for a row whose numbered one an old random handle holds. */
export function randomHandle(): string {
  return `J-${randomDigits()}`;
}

export class HandleNumbers {
  private readonly base: number;
  private readonly lastSeq;

  constructor(db: Db) {
    const row = db.prepare(`SELECT value FROM meta WHERE key = 'handle_base'`).get() as { value: string } | undefined;
    this.base = Number(row?.value ?? 0);
    const last = db.prepare(`SELECT seq FROM sqlite_sequence WHERE name = 'jobs'`).pluck();
    this.lastSeq = () => (last.get() as number | undefined) ?? 0;
  }

  /** The seq the next row will get; call it inside the inserting transaction. */
  nextSeq(): number {
    return this.lastSeq() + 1;
  }

  of(seq: number): string {
    return handleOf(this.base, seq);
  }
}
