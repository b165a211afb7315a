// The scale bench's stall probe, as a process of its own: a one-job request to the master
// every 20 ms, and the longest answer. Apart from the bench, whose own work (building a
// million job specs, counting a listing's lines) must not count as the master's stall.
// Prints the longest answer in ms when told to stop (SIGTERM) or when the master goes.
import { Connection } from '../client/connection.js';

const [port, token] = [Number(process.argv[2]), process.argv[3] ?? ''];
let longest = 0;
let stopping = false;
const done = () => {
  process.stdout.write(`${longest.toFixed(0)}\n`);
  process.exit(0);
};
process.on('SIGTERM', () => (stopping = true));

const conn = await Connection.open({ host: '127.0.0.1', port, token, timeoutMs: 120_000 });
for (;;) {
  if (stopping) break;
  const t0 = performance.now();
  try {
    await conn.request({ type: 'list', specs: ['J-000000'] }, 'jobs');
  } catch {
    break; // the master is going
  }
  longest = Math.max(longest, performance.now() - t0);
  await new Promise((r) => setTimeout(r, 20));
}
conn.close();
done();
