// Every error a user can cause has a code here, so the CLI can print one line and exit
// non-zero without a stack trace, and the master can send the same code over the wire.

export const ErrorCodes = {
  BAD_OPTION: 'BAD_OPTION',
  BAD_VALUE: 'BAD_VALUE',
  BAD_SPEC_FILE: 'BAD_SPEC_FILE',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  NO_MASTER: 'NO_MASTER',
  /** The master turned the connection away for load (too many connections waiting). */
  BUSY: 'BUSY',
  AUTH: 'AUTH',
  NOT_FOUND: 'NOT_FOUND',
  BAD_MESSAGE: 'BAD_MESSAGE',
  STORE: 'STORE',
  INTERNAL: 'INTERNAL',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** An error meant for the person at the terminal: its message is the whole story. */
export class QError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'QError';
  }
}

/** By name, not instanceof: the client's bundle and the master's modules each have a QError class. */
export function isQError(e: unknown): e is QError {
  return e instanceof Error && e.name === 'QError' && 'code' in e;
}
