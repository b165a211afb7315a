// Field schemas every kind of message shares.
import * as z from 'zod';

/** A job's handle: `J-` and six of [0-9a-z]. */
export const HANDLE_PATTERN = /^J-[0-9a-z]{6}$/;
export const handle = z.string().regex(HANDLE_PATTERN);
export const lease = z.string().min(1).max(64);
/** A request's number on its connection. */
export const id = z.number().int().nonnegative();
/** Job filters (jobs/filter.ts). */
export const specs = z.array(z.string().max(4096)).max(100_000);

/** The longest path a message carries (characters): Linux's PATH_MAX. */
export const MAX_PATH = 4096;
export const path = z.string().min(1).max(MAX_PATH);
/** A path inside a job's outPath: relative, no `..`, no empty or `.` parts. */
export const relPath = path.refine((p) => !p.startsWith('/') && p.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
  message: 'must be a relative path inside the outPath',
});
