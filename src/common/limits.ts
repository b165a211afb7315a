// What one request may carry, in one place: the client checks these before it sends, so a
// user meets a clear line naming the limit, not a master that closed the connection or a
// client that ran out of memory (docs/cli.md, "Limits").

/** Jobs one `-add` may create (commands × -numTimes). */
export const MAX_JOBS_PER_ADD = 100_000;

/**
 * Jobs a client sends in one add request. Each is one transaction in the master, which
 * answers nobody else meanwhile: some 10 ms on a small table, 20-35 ms beside a million jobs,
 * where batches of 500 took up to 50.
 */
export const ADD_BATCH = 250;
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
