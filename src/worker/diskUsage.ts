// Size of a directory tree in MB, for the disk limit. Bounded so that a job that makes
// millions of files cannot stall the worker.
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function diskUsageMb(root: string, maxEntries = 200_000): Promise<number> {
  let bytes = 0;
  let entries = 0;
  const stack = [root];
  while (stack.length && entries < maxEntries) {
    const path = stack.pop()!;
    let st;
    try {
      st = await lstat(path);
    } catch {
      continue;
    }
    entries++;
    bytes += st.blocks * 512;
    if (st.isDirectory()) {
      try {
        for (const name of await readdir(path)) stack.push(join(path, name));
      } catch {
        // unreadable: counted as empty
      }
    }
  }
  return bytes / 1048576;
}
