import t from 'tap';
import { findMode, prepass } from '../../src/cli/argv.js';

const pp = (args: string[], mode: 'client' | 'master' | 'worker' = 'client') => Object.fromEntries(prepass(args, mode));

t.test('prefixes: unique prefix selects, exact name wins, ambiguity lists matches', async (t) => {
  t.same(pp(['-del', 'all']), { delete: ['all'] });
  t.same(pp(['-w']), { w: [] }, 'exact -w wins over -workerHandle');
  t.same(pp(['-work', 'x']), { workerHandle: ['x'] });
  t.throws(() => pp(['-me', '5']), { message: '-me is ambiguous; possible matches: -mem -memGrace' });
  t.throws(() => pp(['-nosuch']), /unknown option -nosuch/);
  t.throws(() => pp(['-sleepInterval', '2']), /unknown option -sleepInterval/, 'worker options are not client options');
  t.same(pp(['-sleepInterval', '2'], 'worker'), { sleepInterval: ['2'] });
});

t.test('lists take arguments up to the next option; commands keep dash words', async (t) => {
  t.same(pp(['-tags', 'a', 'b', '-priority', '3']), { tags: ['a', 'b'], priority: ['3'] });
  t.same(pp(['-add', 'ls', '-l', '/tmp']), { add: ['ls', '-l', '/tmp'] });
  t.same(pp(['-add', 'sort', '-n', 'f', '-priority', '2']), { add: ['sort', '-n', 'f'], priority: ['2'] });
  t.same(pp(['-list']), { list: [] });
  t.same(pp(['-tags', 'a', '-tags', 'b']), { tags: ['b'] }, 'a repeated option replaces the earlier one');
});

t.test('-- and ---', async (t) => {
  t.same(pp(['-priority', '--', '-1']), { priority: ['-1'] });
  t.same(pp(['-priority', '-1']), { priority: ['-1'] }, 'a negative number is a value');
  t.same(pp(['-tags', '--', '-x', 'y']), { tags: ['-x', 'y'] });
  t.same(pp(['-tags', '---', '-a', '-b', '--', '---', 'c']), { tags: ['-a', '-b', '--', 'c'] });
  t.same(pp(['-list', '---', '-tabs', '---', '-tabs']), { list: ['-tabs'], tabs: [] });
});

t.test('booleans', async (t) => {
  t.same(pp(['-tabs']), { tabs: [] });
  t.same(pp(['-shareWorkingPath', 'false', '-add', 'x']), { shareWorkingPath: ['false'], add: ['x'] });
  t.throws(() => pp(['-tabs', 'yes']), /-tabs takes true or false, not 'yes'/);
  t.throws(() => pp(['stray']), /unexpected argument 'stray'/);
  t.same(pp(['-list', '-json', 'J-x']), { list: ['J-x'], json: [] }, 'a word after a flag that follows a SPEC list is a SPEC');
  t.throws(() => pp(['-tags', 'a', '-tabs', 'b']), /-tabs takes true or false, not 'b'/, 'other lists take no word back');
});

t.test('values', async (t) => {
  t.throws(() => pp(['-priority']), /-priority needs a value/);
  t.throws(() => pp(['-priority', '1', '2']), /-priority takes one value/);
});

t.test('mode is found before the per-mode table is chosen', async (t) => {
  t.equal(findMode(['-add', 'x']), 'client');
  t.equal(findMode(['-mode', 'master']), 'master');
  t.equal(findMode(['-mo', 'worker', '-slots', '2']), 'worker');
  t.throws(() => findMode(['-mode', 'boss']), /-mode must be/);
  t.equal(findMode(['-add', 'prog', '--', '-mode', 'train']), 'client', '-- protects a value');
  t.equal(findMode(['-add', '---', 'prog', '-mode', 'train', '---']), 'client', '--- protects values');
});
