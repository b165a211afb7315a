// What every bench script needs: its numeric options (--name N), a pause, and a bounded wait.

/** The number after --name on the command line, or `fallback`. */
export function numArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `f` every 20 ms until it gives a value; an error after `ms`. */
export async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 600_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await f();
    if (v !== undefined) return v;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
