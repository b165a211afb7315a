// fig's q users type its shortest prefixes. For every option fig had (and q has), the
// shortest prefix that selected it in fig selects it in q too, in every mode, whatever
// options q added since: a new option can never take a fig prefix away.
import t from 'tap';
import { prepass } from '../../src/cli/argv.js';
import { FIG_BY_MODE, FIG_GLOBAL, figChoice } from '../../src/cli/figOptions.js';
import { Modes, optionsFor } from '../../src/cli/options.js';

const chosen = (args: string[], mode: (typeof Modes)[number]) => [...prepass(args, mode).keys()];

t.test("fig's own examples", async (t) => {
  t.same(chosen(['-l'], 'client'), ['list']);
  t.same(chosen(['-list', '-he'], 'client'), ['list', 'headers']);
  t.same(chosen(['-n', '3', '-add', 'x'], 'client'), ['numTimes', 'add']);
  t.same(chosen(['-p', '-add', 'x'], 'client'), ['pretend', 'add'], 'fig parsed its global options first');
  t.same(chosen(['-h', 'box'], 'client'), ['hostname']);
  t.same(chosen(['-b', '/tmp'], 'worker'), ['basePath']);
  t.throws(() => chosen(['-t', '1h'], 'client'), /-t is ambiguous/, 'ambiguous in fig stays ambiguous');
  t.throws(() => chosen(['-lo', 'J-abc123'], 'client'), /-lo is ambiguous; possible matches: -log -localWorker|-lo is ambiguous/, 'not a fig prefix: q rules');
});

t.test("every fig option's shortest prefix selects it in q", async (t) => {
  for (const mode of Modes) {
    const names = new Set(optionsFor(mode).map((o) => o.name));
    for (const name of [...FIG_GLOBAL, ...FIG_BY_MODE[mode]]) {
      if (!names.has(name)) continue; // EC2 details q never had (-imageId ...)
      let prefix = '';
      for (let n = 1; n <= name.length; n++) {
        if (figChoice(name.slice(0, n), mode) === name) {
          prefix = name.slice(0, n);
          break;
        }
      }
      const kind = optionsFor(mode).find((o) => o.name === name)!.kind;
      const value = name === 'mode' ? [mode] : kind === 'bool' ? [] : ['1'];
      t.equal(chosen([`-${prefix}`, ...value], mode)[0], name, `${mode}: -${prefix} is -${name}`);
    }
  }
});
