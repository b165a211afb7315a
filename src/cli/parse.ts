// Command line → typed options: the pre-pass resolves old-q syntax, yargs types the result
// and renders -help from the same option table.
import yargs from 'yargs';
import { ErrorCodes, QError } from '../common/errors.js';
import { findMode, prepass, toYargsArgv } from './argv.js';
import { optionsFor, type Mode } from './options.js';

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
  help(): string;
  /** Words inside -add/-direct that a q option starts with (kept in the command). */
  optionLike: string[];
}

function build(mode: Mode) {
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

export async function parseArgs(argv: readonly string[]): Promise<Parsed> {
  const mode = findMode(argv);
  const optionLike: string[] = [];
  const raw = prepass(argv, mode, optionLike);
  const y = build(mode);
  let parsed: Record<string, unknown>;
  try {
    parsed = (await y.parseAsync(toYargsArgv(raw, mode)));
  } catch (e) {
    throw new QError(ErrorCodes.BAD_OPTION, (e as Error).message);
  }
  const str = (name: string) => {
    // yargs gives strings, numbers or booleans for the options that use this.
    const v = parsed[name] as string | number | boolean | undefined;
    return v === undefined ? undefined : String(v);
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
    given: new Set(raw.keys()),
    bool: (name) => parsed[name] === true,
    str,
    list: (name) => (parsed[name] === undefined ? undefined : (parsed[name] as unknown[]).map(String)),
    int: (name) => num(name, true),
    num: (name) => num(name, false),
    help: () => {
      let text = '';
      y.showHelp((s: string) => {
        text = s;
      });
      // yargs prints `--name`; q's options are single-dash words.
      return text.replace(/(^|\s)--(?=[a-zA-Z])/g, '$1-');
    },
  };
}
