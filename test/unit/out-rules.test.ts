// Which directories of an outPath a copy of outputs reads: those its outFiles rules could
// reach into, and no others (CodaLab's outPath is its whole bundle store).
import t from 'tap';
import { mayHoldMatches, outRules, ruleFor } from '../../src/files/paths.js';

t.test('a directory is walked only when a rule could match it or something below it', async (t) => {
  const codalab = outRules(['full:0xabc*']);
  t.ok(mayHoldMatches(codalab, '0xabc'), "the bundle's own directory");
  t.ok(mayHoldMatches(codalab, '0xabc/deep/er'), 'and everything under it');
  t.notOk(mayHoldMatches(codalab, '0xdef'), "another bundle's");
  t.notOk(mayHoldMatches(codalab, 'x/0xabc'), 'a match one level down is not one');
  const nested = outRules(['append:logs/*/run.log']);
  t.ok(mayHoldMatches(nested, 'logs'));
  t.ok(mayHoldMatches(nested, 'logs/a'));
  t.notOk(mayHoldMatches(nested, 'logs/a/b'), 'deeper than the glob reaches, and not matched');
  t.notOk(mayHoldMatches(nested, 'data'));
  t.ok(ruleFor(nested, 'logs/a/run.log'));
  t.ok(mayHoldMatches(outRules(['full:**/x']), 'any/where'), '** reaches any depth');
  t.ok(mayHoldMatches(outRules(['full:*']), 'd/e'), 'a matched directory brings all under it');
});
