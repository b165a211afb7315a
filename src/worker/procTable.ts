// One read of /proc: every process's parent, group, CPU ticks and resident memory. The worker
// takes one snapshot per tick and measures all its jobs from it.
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  comm: string;
  /** R, S, D, Z, ... */
  state: string;
  /** utime + stime of the process itself, and of its waited-for children, in ticks. */
  ticks: number;
  childTicks: number;
  userTicks: number;
  childUserTicks: number;
  rssBytes: number;
  /** When the process started, in ticks since boot: orders processes by birth. */
  startTicks: number;
}

export type ProcTable = Map<number, ProcInfo>;

export const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const PAGE = 4096;

export function parseStat(pid: number, text: string): ProcInfo | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const comm = text.slice(text.indexOf('(') + 1, close);
  // Fields after the command name, from field 3 (state) on.
  const f = text.slice(close + 2).split(' ');
  if (f.length < 22) return undefined;
  const n = (i: number) => Number(f[i]);
  return {
    pid,
    ppid: n(1),
    pgrp: n(2),
    comm,
    state: f[0]!,
    ticks: n(11) + n(12),
    childTicks: n(13) + n(14),
    userTicks: n(11),
    childUserTicks: n(13),
    rssBytes: n(21) * PAGE,
    startTicks: n(19),
  };
}

export function readProcTable(): ProcTable {
  const table: ProcTable = new Map();
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return table;
  }
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const info = readStat(pid);
    if (info) table.set(pid, info);
  }
  return table;
}

/** One process, or undefined when it is gone (or went between readdir and read). */
export function readStat(pid: number): ProcInfo | undefined {
  try {
    return parseStat(pid, readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** A process and its descendants. */
export function processTree(table: ProcTable, rootPid: number): ProcInfo[] {
  const children = new Map<number, number[]>();
  for (const p of table.values()) {
    let list = children.get(p.ppid);
    if (!list) children.set(p.ppid, (list = []));
    list.push(p.pid);
  }
  const seen = new Set<number>();
  const stack = [rootPid];
  const out: ProcInfo[] = [];
  while (stack.length) {
    const pid = stack.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const info = table.get(pid);
    if (!info) continue;
    out.push(info);
    for (const c of children.get(pid) ?? []) stack.push(c);
  }
  return out;
}
