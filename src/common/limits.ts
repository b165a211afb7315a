// What one request may carry, in one place: the client checks these before it sends, so a
// user meets a clear line naming the limit, not a master that closed the connection or a
// client that ran out of memory (docs/cli.md, "Limits").

/** Jobs one `-add` may create (commands × -numTimes). */
export const MAX_JOBS_PER_ADD = 1_000_000;

/**
 * Jobs a client sends in one add request. Each is one transaction in the master, which
 * answers nobody else meanwhile: beside a million jobs, with the CPUs shared, an add of 250
 * held the master's thread 28-39 ms on a CPU (the scale bench's longest gaps, 2026-12-06),
 * one of 500 up to 50. With batches of 125 the adding master's longest stall was 25, 24 and
 * 21 ms against 30, 27 and 23 ms with 250 (three runs each, in turn), and a bulk add was no
 * slower: a million jobs in 33.6, 33.8 and 37.7 s against 41.6, 38.0 and 36.0 s.
 */
export const ADD_BATCH = 125;
/** Jobs one job may wait for (-after and -afterAny each): a fan-in of a whole sweep. */
export const MAX_DEPENDENCIES = 100_000;
/** -retry: times a failed command may run again. */
export const MAX_RETRY = 100;
/** -retryDelay, and where its doubling stops: an hour. */
export const MAX_RETRY_DELAY_S = 3600;
/** Bytes of one command. */
export const MAX_COMMAND_BYTES = 1_000_000;
/** The largest frame either side accepts (8 MB): one request must fit in it. */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** -memGrace: how far over -mem a job may go before it is killed. */
export const MAX_MEM_GRACE = 100;

/** MB of outputs one job may put on the master's disk, unless -maxOutput says otherwise. */
export const DEFAULT_MAX_OUTPUT_MB = 10 * 1024;
/** MB of free disk a worker keeps under its basePath, and a master under an outPath, unless -minFreeDisk says otherwise. */
export const DEFAULT_MIN_FREE_DISK_MB = 100;
/**
 * Entries one walk reads (an input, a disk count; a copy of a job's outputs unless
 * -maxOutputEntries says otherwise): a job that makes millions of files cannot stall a pass.
 */
export const MAX_WALK_ENTRIES = 200_000;
