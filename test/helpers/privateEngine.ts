// A Docker engine of a test's own, to stop and restart under running jobs without touching
// the machine's engine the other tests use. It runs in a network namespace of its own with no
// bridge and no iptables rules, so it cannot take the host's docker0 or rules with it, and
// keeps its data and sockets under a temporary directory. The test image is copied into it
// from the machine's engine. Needs root, `unshare` and `dockerd`.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_IMAGE } from './docker.js';
import { waitFor } from './q.js';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export class PrivateEngine {
  readonly host: string;
  private proc: ChildProcess | null = null;

  private constructor(private readonly root: string) {
    this.host = `unix://${join(root, 'docker.sock')}`;
  }

  /** Why one cannot run here, or null. */
  static unavailable(): string | null {
    if (process.getuid?.() !== 0) return 'a private Docker engine needs root';
    for (const cmd of ['dockerd', 'unshare']) {
      if (spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0) return `${cmd} is missing`;
    }
    return null;
  }

  static async start(t: Teardown): Promise<PrivateEngine> {
    // Under /tmp: the sockets' paths must stay short.
    const engine = new PrivateEngine(mkdtempSync(join(tmpdir(), 'q-engine-')));
    t.teardown(() => engine.destroy());
    await engine.up();
    const load = spawnSync('sh', ['-c', `docker save ${TEST_IMAGE} | docker -H ${engine.host} load`], { encoding: 'utf8', timeout: 60_000 });
    if (load.status !== 0) throw new Error(`could not load ${TEST_IMAGE} into the private engine: ${load.stderr}`);
    return engine;
  }

  /** Starts the engine and waits until it answers. */
  async up(): Promise<void> {
    const r = this.root;
    // unshare execs dockerd itself: this pid is the engine's.
    this.proc = spawn(
      'unshare',
      [
        '--net', 'dockerd', '--data-root', join(r, 'data'), '--exec-root', join(r, 'exec'), '-H', this.host,
        '--pidfile', join(r, 'docker.pid'), '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    await waitFor('the private Docker engine to answer', () => this.docker(['info']).status === 0, 60_000, 250);
  }

  /** Stops the engine as `systemctl stop docker` would (TERM), and waits until it has gone. */
  async down(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    // (a timer left running kept the test's process alive 30 s after its last test)
    await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
    clearTimeout(timer);
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }

  docker(args: string[]): { status: number | null; stdout: string } {
    const r = spawnSync('docker', ['-H', this.host, ...args], { encoding: 'utf8', timeout: 20_000 });
    return { status: r.status, stdout: r.stdout ?? '' };
  }

  /** Ids of the containers running in it. */
  running(): string[] {
    return this.docker(['ps', '-q']).stdout.split('\n').filter(Boolean);
  }

  private async destroy(): Promise<void> {
    // Containers first, so that the engine leaves no mounts behind.
    const all = this.docker(['ps', '-aq']).stdout.split('\n').filter(Boolean);
    if (all.length) this.docker(['rm', '-f', ...all]);
    await this.down();
    // The containerd it started goes with it; if it was left (engine KILLed), end it by its pid.
    const pidFile = join(this.root, 'exec', 'containerd', 'containerd.pid');
    if (existsSync(pidFile)) {
      try {
        process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmSync(this.root, { recursive: true, force: true });
    } catch (e) {
      process.stderr.write(`private engine: could not remove ${this.root}: ${(e as Error).message}\n`);
    }
  }
}
