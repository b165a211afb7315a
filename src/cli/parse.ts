// Command line → typed options: the pre-pass resolves old-q syntax (and refuses what is not
// an option of the mode), the option table says each one's kind, and yargs renders -help from
// the same table. yargs is loaded for -help only: typing what the pre-pass produced needs no
// parser, and loading it was ~25 ms of every client call.
import { ErrorCodes, QError } from '../common/errors.js';
import { findMode, prepass, toYargsArgv } from './argv.js';
import { OPTIONS, optionsFor, type Mode } from './options.js';
import { parseVerbosity, type Verbosity } from '../common/verbosity.js';

export interface Parsed {
  mode: Mode;
  /** Which options were given at all (a list option may be given with no values). */
  given: Set<string>;
  bool(name: string): boolean;
  str(name: string): string | undefined;
  list(name: string): string[] | undefined;
  /** An integer option; a clear error when it is not one. */
  int(name: string): number | undefined;
  num(name: string): number | undefined;
  help(): Promise<string>;
  /** Words inside -add/-direct that a q option starts with (kept in the command). */
  optionLike: string[];
  /** -verbose, checked once for every mode. */
  verbosity: Verbosity;
}

async function build(mode: Mode) {
  const { default: yargs } = await import('yargs');
  let y = yargs()
    .scriptName('q')
    .usage(
      mode === 'client'
        ? 'q [options]   (client; see also q -mode master, q -mode worker)'
        : `q -mode ${mode} [options]`,
    )
    .parserConfiguration({
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': true,
      'short-option-groups': false,
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'boolean-negation': false,
    })
    .strict()
    .version(false)
    .help(false)
    .wrap(100);
  for (const o of optionsFor(mode)) {
    const type = o.kind === 'bool' ? 'boolean' : o.kind === 'value' ? 'string' : 'array';
    y = y.option(o.name, { type, describe: o.describe });
  }
  return y;
}

export function parseArgs(argv: readonly string[]): Parsed {
  const mode = findMode(argv);
  const optionLike: string[] = [];
  const raw = prepass(argv, mode, optionLike);
  const kind = (name: string) => OPTIONS.find((o) => o.name === name)?.kind;
  const str = (name: string) => {
    const v = raw.get(name);
    if (v === undefined) return undefined;
    // A bool given alone is true; a value option holds one value (the pre-pass saw to it).
    return kind(name) === 'bool' ? (v[0] ?? 'true') : v[v.length - 1];
  };
  const num = (name: string, integer: boolean) => {
    const v = str(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw new QError(ErrorCodes.BAD_VALUE, `-${name} needs ${integer ? 'an integer' : 'a number'}, not '${v}'`);
    }
    return n;
  };
  return {
    mode,
    optionLike,
    verbosity: parseVerbosity(str('verbose')),
    given: new Set(raw.keys()),
    bool: (name) => str(name) === 'true',
    str,
    list: (name) => (raw.has(name) ? [...raw.get(name)!] : undefined),
    int: (name) => num(name, true),
    num: (name) => num(name, false),
    help: async () => {
      const y = await build(mode);
      try {
        await y.parseAsync(toYargsArgv(raw, mode));
      } catch (e) {
        throw new QError(ErrorCodes.BAD_OPTION, (e as Error).message);
      }
      let text = '';
      y.showHelp((s: string) => {
        text = s;
      });
      // yargs prints `--name`; q's options are single-dash words. It also capitalises the
      // usage line's first letter: the command is q.
      // (only the option column: a description may quote another program's --options)
      return text.replace(/^(\s*)--(?=[a-zA-Z])/gm, '$1-').replace(/^Q /, 'q ');
    },
  };
}

/** An integer option that must be at least 1 (-slots, -sleepInterval). */
export function positiveInt(p: Parsed, name: string, fallback: number): number {
  const n = p.int(name) ?? fallback;
  if (n < 1) throw new QError(ErrorCodes.BAD_VALUE, `-${name} must be at least 1, not ${n}`);
  return n;
}
