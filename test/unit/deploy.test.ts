// What docs/kubernetes.md ships and this machine cannot run: the manifests parse as the
// Kubernetes objects they claim to be, and every q command line in them (and the image's
// default) is one this version of q accepts, option by option, in its mode.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { parseArgs } from '../../src/cli/parse.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (p: string) => readFileSync(ROOT + p, 'utf8');

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; valueFrom?: unknown; value?: string }[];
}

t.test('the manifests parse, and their q command lines are q', async (t) => {
  const docs = parseAllDocuments(read('deploy/kubernetes/q.yaml')).map((d) => {
    t.same(d.errors, [], 'YAML without errors');
    return d.toJS() as { apiVersion: string; kind: string; metadata: { name: string }; spec: Record<string, unknown> };
  });
  t.same(
    docs.map((d) => `${d.kind}/${d.metadata.name}`),
    ['Service/q-master', 'StatefulSet/q-master', 'Deployment/q-worker', 'ScaledObject/q-worker'],
  );
  const containers = docs.flatMap((d) => ((d.spec.template as { spec?: { containers?: Container[] } } | undefined)?.spec?.containers ?? []));
  t.equal(containers.length, 2);
  for (const c of containers) {
    const p = parseArgs(c.args ?? []);
    t.ok(['master', 'worker'].includes(p.mode), `${c.name}: -mode ${p.mode}`);
    t.ok(
      c.env?.some((e) => e.name === 'Q_TOKEN' && e.valueFrom),
      `${c.name}: the token from a Secret, not on its command line`,
    );
    t.notOk(c.args?.includes('-token'));
  }
  const worker = parseArgs(containers[1]!.args!);
  t.equal(worker.str('lifetime'), '10m');
  const scaled = docs[3]!.spec as { scaleTargetRef: { name: string }; triggers: { type: string; metadata: { query: string } }[] };
  t.equal(scaled.scaleTargetRef.name, 'q-worker');
  t.match(scaled.triggers[0]!.metadata.query, /q_jobs\{status="ready"\}/, 'a metric /metrics exports');
});

t.test("the image's default command is a master q accepts", async (t) => {
  const dockerfile = read('deploy/Dockerfile');
  const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const p = parseArgs(cmd);
  t.equal(p.mode, 'master');
  t.equal(p.str('netInterface'), '*');
  t.match(dockerfile, /^ENTRYPOINT \["q"\]$/m);
});
