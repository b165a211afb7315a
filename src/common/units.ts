// Sizes and times as users type them and as q prints them. Internally: MB and seconds.
import { ErrorCodes, QError } from './errors.js';

const SIZE_UNITS: Record<string, number> = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };
const TIME_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** `500m` → 500, `1.5g` → 1536, `2048` (bare) → 2048. Result in MB, at least 1. */
export function parseSize(text: string | number, what = 'size'): number {
  if (typeof text === 'number' && Number.isFinite(text) && text > 0) return Math.round(text);
  const m = /^(\d+(?:\.\d+)?|\.\d+)([kmgt]?)$/i.exec(String(text).trim());
  if (!m) throw new QError(ErrorCodes.BAD_VALUE, `bad ${what} '${text}': use e.g. 500m, 1.5g or a number of MB`);
  const mb = Math.round(Number(m[1]) * SIZE_UNITS[(m[2] || 'm').toLowerCase()]!);
  if (!(mb >= 1)) throw new QError(ErrorCodes.BAD_VALUE, `bad ${what} '${text}': must be at least 1 MB`);
  return mb;
}

/** `30s`, `10m`, `2h`, `3d`, `1h30m`, bare seconds. Result in whole seconds, at least 1. */
export function parseTime(text: string | number, what = 'time'): number {
  if (typeof text === 'number' && Number.isFinite(text) && text > 0) return Math.round(text);
  const s = String(text).trim().toLowerCase();
  const bad = () =>
    new QError(ErrorCodes.BAD_VALUE, `bad ${what} '${text}': use e.g. 30s, 10m, 2h, 3d or a number of seconds`);
  if (/^\d+(\.\d+)?$/.test(s)) {
    const n = Math.round(Number(s));
    if (n < 1) throw bad();
    return n;
  }
  if (!/^(\d+(\.\d+)?[smhd])+$/.test(s)) throw bad();
  let total = 0;
  for (const part of s.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) total += Number(part[1]) * TIME_UNITS[part[2]!]!;
  total = Math.round(total);
  if (total < 1) throw bad();
  return total;
}

/** Two largest units, truncated: 3725 → `1h2m`, 59 → `59s`, 172800 → `2d0h`. Negative = unknown. */
export function formatTime(seconds: number): string {
  if (!(seconds >= 0)) return '-';
  let s = Math.floor(seconds);
  let m = Math.floor(s / 60);
  s %= 60;
  let h = Math.floor(m / 60);
  m %= 60;
  let d = Math.floor(h / 24);
  h %= 24;
  const y = Math.floor(d / 365);
  d %= 365;
  if (y > 0) return `${y}y${d}d`;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

/** MB below 10 GB (`1536m`), whole GB from there (`14g`). Negative = unknown. */
export function formatSize(mb: number): string {
  if (!(mb >= 0)) return '-';
  const gb = Math.floor(mb / 1024);
  return gb >= 10 ? `${gb}g` : `${Math.round(mb)}m`;
}
