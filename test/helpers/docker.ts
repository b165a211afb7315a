// Whether the Docker tests can run: an engine answering and the local test image built by
// scripts/test-images.sh. Without them the tests skip, loudly; with Q_REQUIRE_DOCKER=1 (set by
// CI) they fail instead, so a CI run without an engine cannot pass by skipping.
import { spawnSync } from 'node:child_process';
import { unavailable, type Tap } from './services.js';

export const TEST_IMAGE = 'q-test-busybox';

function check(): string | null {
  const r = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', TEST_IMAGE], { encoding: 'utf8', timeout: 20_000 });
  if (r.error) return `the docker command is missing (${r.error.message})`;
  if (r.status !== 0) return (r.stderr || r.stdout).trim().split('\n')[0] ?? 'docker image inspect failed';
  return null;
}

let cached: string | null | undefined;

/** True when the engine and image are here; otherwise fails or skips `t` and says why. */
export function dockerReady(t: Tap): boolean {
  if (cached === undefined) cached = check();
  if (cached === null) return true;
  return unavailable(t, 'Q_REQUIRE_DOCKER', `no Docker engine or test image: ${cached}. Run: bash scripts/test-images.sh`, ' DOCKER TESTS');
}

/** Containers (running or not) carrying this label, e.g. `q.job=J-abc123`. */
export function containersWith(label: string): string[] {
  const r = spawnSync('docker', ['ps', '-aq', '--filter', `label=${label}`], { encoding: 'utf8', timeout: 20_000 });
  return r.stdout.split('\n').filter(Boolean);
}

/** Removes containers a failed test left (ours only: picked by label). */
export function removeContainers(label: string): void {
  const ids = containersWith(label);
  if (ids.length) spawnSync('docker', ['rm', '-f', ...ids], { timeout: 30_000 });
}
