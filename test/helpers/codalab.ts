// CodaLab's bundle scripts, written as its work manager (codalab-worksheets 45f99fc1b,
// codalab/machines/remote_machine.py) writes them: DIR/UUID.sh starts `docker run` with a cid
// file, mounts DIR/UUID, watches DIR/UUID.action for `kill`, and sends the container's
// stdout/stderr into DIR/UUID/; DIR/UUID-internal.sh runs the command inside.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TEST_IMAGE } from './docker.js';

/** The bundle's files, as CodaLab's remote_machine writes them. */
export function writeBundle(dir: string, uuid: string, command: string, label: string): string {
  const temp = join(dir, uuid);
  mkdirSync(temp, { recursive: true });
  writeFileSync(join(temp, 'dep.txt'), 'a dependency\n');
  writeFileSync(`${temp}-internal.sh`, `cd /${uuid} && (${command}) >>stdout 2>>stderr\n`);
  writeFileSync(`${temp}.sh`, `#!/bin/bash
if [ -z "$1" ]; then temp_dir=${temp}; else temp_dir=\`readlink -f $0 | sed -e 's/\\.sh$//'\`; fi
(while [ -e $temp_dir ]; do
  if [ -e $temp_dir.action ] && [ "$(cat $temp_dir.action)" = kill ]; then
    echo "[CodaLab] Received kill command, terminating." >> $temp_dir/stderr
    docker kill $(cat $temp_dir.cid) >/dev/null
    rm -f $temp_dir.action
    break
  fi
  sleep 1
done) &
docker run --rm --net=none --label ${label} --cidfile $temp_dir.cid -v $temp_dir:/${uuid} -v $temp_dir-internal.sh:/${uuid}-internal.sh -e HOME=/${uuid} ${TEST_IMAGE} bash /${uuid}-internal.sh >$temp_dir/stdout 2>$temp_dir/stderr &
wait $!
`);
  return `${temp}.sh`;
}

/**
 * A bundle whose script runs its command itself, without Docker, but finds its directory the
 * way CodaLab's does (from its own path, when given `use_script_for_temp_dir`).
 */
export function writePlainBundle(dir: string, uuid: string, command: string): string {
  const temp = join(dir, uuid);
  mkdirSync(temp, { recursive: true });
  writeFileSync(join(temp, 'dep.txt'), 'a dependency\n');
  writeFileSync(`${temp}.sh`, `if [ -z "$1" ]; then temp_dir=${temp}; else temp_dir=\`readlink -f $0 | sed -e 's/\\.sh$//'\`; fi
cd $temp_dir && (${command}) >stdout 2>stderr
`);
  return `${temp}.sh`;
}
