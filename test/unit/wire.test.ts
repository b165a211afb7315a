// The wire unions compile a variant when a message of its type is first checked, and answer
// as the union written out would: the same values for valid messages (defaults filled in),
// the same issues for invalid ones.
import t from 'tap';
import { ClientRequestSchema, ClientResponseSchema } from '../../src/protocol/clientMessages.js';
import { WorkerMessageSchema } from '../../src/protocol/workerMessages.js';

const row = ['J-000001', 'w1', 'h1', 'done', 0, null, 1.5, 12.25, 0, null, 'true'];

t.test('only the variants of the types checked are compiled', async (t) => {
  t.equal(ClientResponseSchema.compiled, 0, 'nothing at import');
  t.ok(ClientResponseSchema.safeParse({ type: 'jobRows', id: 1, rows: [], last: true }).success);
  t.equal(ClientResponseSchema.compiled, 1, 'the one type a -list gets');
  for (let i = 0; i < 3; i++) ClientResponseSchema.safeParse({ type: 'jobRows', id: 2 + i, rows: [], last: false });
  t.equal(ClientResponseSchema.compiled, 1, 'once');
  ClientResponseSchema.safeParse({ type: 'ok', id: 9, message: 'fine' });
  t.equal(ClientResponseSchema.compiled, 2);
  ClientResponseSchema.safeParse({ type: 'nonsense', id: 9 });
  ClientResponseSchema.safeParse('not an object');
  t.equal(ClientResponseSchema.compiled, 2, 'a message of no known type compiles nothing');
});

t.test('the same answers as the union as written', async (t) => {
  type Check = { safeParse(v: unknown): { success: boolean } };
  const cases: [string, Check & { schema: Check }, unknown, boolean][] = [
    ['a valid request', ClientRequestSchema, { type: 'list', id: 3, specs: ['status:done'], rows: true }, true],
    ['a default filled in', ClientRequestSchema, { type: 'kill', id: 4, specs: ['all'] }, true],
    ['a wrong field', ClientRequestSchema, { type: 'kill', id: 4, specs: 'all' }, false],
    ['a missing field', ClientRequestSchema, { type: 'add', id: 5 }, false],
    ['an unknown type', ClientRequestSchema, { type: 'format', id: 6 }, false],
    ['no type', ClientRequestSchema, { id: 6 }, false],
    ['not an object', ClientRequestSchema, [1, 2], false],
    ['null', ClientRequestSchema, null, false],
    ["a type from Object's prototype", ClientRequestSchema, { type: 'constructor', id: 6 }, false],
    ['a type of __proto__', ClientRequestSchema, JSON.parse('{"type": "__proto__", "id": 6}'), false],
    ['a type that is no string', ClientRequestSchema, { type: 1, id: 6 }, false],
    ['a valid answer', ClientResponseSchema, { type: 'jobRows', id: 7, rows: [row], last: false }, true],
    ['a bad row', ClientResponseSchema, { type: 'jobRows', id: 7, rows: [[...row.slice(0, 4), 'zero']], last: false }, false],
    ['a valid worker message', WorkerMessageSchema, { type: 'started', handle: 'J-000001', lease: 'L1' }, true],
    ['a worker message missing its lease', WorkerMessageSchema, { type: 'started', handle: 'J-000001' }, false],
  ];
  for (const [what, wire, value, valid] of cases) {
    // Twice: the first check compiles, the second uses what was compiled.
    for (const time of ['first', 'second']) {
      const got = wire.safeParse(value);
      t.equal(got.success, valid, `${what}: ${valid ? 'valid' : 'invalid'}`);
      t.same(got, wire.schema.safeParse(value), `${what} (${time} check)`);
    }
  }
  const killed = ClientRequestSchema.safeParse({ type: 'kill', id: 4, specs: ['all'] });
  t.same(killed.success && killed.data, { type: 'kill', id: 4, specs: ['all'], queued: false });
  const bad = ClientRequestSchema.safeParse({ type: 'kill', id: 4, specs: 'all' });
  t.notOk(bad.success);
  t.match(JSON.stringify(!bad.success && bad.error.issues), /specs/, 'the issue names the field');
});
