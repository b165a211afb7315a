// The option pre-pass: turns old-q style arguments (single-dash words, unique prefixes,
// lists, `--`, `---`) into `--name=value` tokens that yargs can type without guessing.
//
// Rules (see docs/cli.md):
// - `-word` is an option; an exact name wins, else a unique prefix, else what fig's q chose
//   (its global options first: figOptions.ts); ambiguous or unknown prefixes are errors. `-5` and `-1.5` are values (numbers are never option names).
// - Values after an option belong to it, up to the next option. A later occurrence of the
//   same option replaces the earlier one.
// - A command option (`-add`, `-direct`) ends only at an exact option name, so
//   `-add ls -l /tmp` keeps `-l` in the command.
// - `--` makes the next argument a value; `---` toggles "everything is a value". -slurmArgs's
//   value (sbatch options, dashes and all) is always the word after it.
// - A boolean alone is true; `true` or `false` right after it sets it.
import { ErrorCodes, QError } from '../common/errors.js';
import { optionsFor, OPTIONS, type Mode, type OptionDef } from './options.js';
import { figChoice } from './figOptions.js';

export type RawOptions = Map<string, string[]>;

const NUMBER = /^-(\d+(\.\d*)?|\.\d+)$/;

function resolve(word: string, table: readonly OptionDef[], mode: Mode): OptionDef {
  const exact = table.find((o) => o.name === word);
  if (exact) return exact;
  const matches = table.filter((o) => o.name.startsWith(word));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new QError(ErrorCodes.BAD_OPTION, `unknown option -${word} (see q -help)`);
  // Ambiguous only because of options fig did not have: fig's choice (figOptions.ts).
  const fig = figChoice(word, mode);
  const chosen = fig === null ? undefined : matches.find((o) => o.name === fig);
  if (chosen) return chosen;
  throw new QError(
    ErrorCodes.BAD_OPTION,
    `-${word} is ambiguous; possible matches: ${matches.map((o) => `-${o.name}`).join(' ')}`,
  );
}

/** Whether `-word` would select an option (by prefix) outside a command. */
function selects(word: string, table: readonly OptionDef[], mode: Mode): boolean {
  try {
    resolve(word, table, mode);
    return true;
  } catch {
    return false;
  }
}

/** Finds `-mode X` (or a prefix of it) before the per-mode table is known. */
export function findMode(argv: readonly string[]): Mode {
  let verbatim = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // Words made values by `--` or `---` are not options, here as in the pre-pass.
    if (arg === '---') verbatim = !verbatim;
    if (arg === '--' && !verbatim) i++;
    if (verbatim || !arg.startsWith('-') || arg.length < 3 || NUMBER.test(arg)) continue;
    const word = arg.slice(1);
    const hits = OPTIONS.filter((o) => o.name.startsWith(word));
    if (word === 'mode' || (hits.length === 1 && hits[0]!.name === 'mode')) {
      const value = argv[i + 1];
      if (value === 'master' || value === 'worker' || value === 'client') return value;
      throw new QError(ErrorCodes.BAD_VALUE, `-mode must be master, worker or client, not '${value ?? ''}'`);
    }
  }
  return 'client';
}

/**
 * @param optionLike receives the words inside `-add`/`-direct` that a q option starts with
 *   (kept in the command: the caller warns, since the user may have meant the option)
 */
export function prepass(argv: readonly string[], mode: Mode, optionLike: string[] = []): RawOptions {
  const table = optionsFor(mode);
  const out: RawOptions = new Map();
  let current: OptionDef | null = null;
  let verbatim = false;
  let forceNext = false;

  const addValue = (value: string) => {
    if (!current) {
      throw new QError(ErrorCodes.BAD_OPTION, `unexpected argument '${value}' (it follows no option that takes values)`);
    }
    const values = out.get(current.name)!;
    if (current.kind === 'bool') {
      if (value !== 'true' && value !== 'false') {
        throw new QError(ErrorCodes.BAD_VALUE, `-${current.name} takes true or false, not '${value}'`);
      }
      values.push(value);
      current = null;
      return;
    }
    if (current.kind === 'value' && values.length === 1) {
      throw new QError(
        ErrorCodes.BAD_VALUE,
        `-${current.name} takes one value, got '${values[0]}' and '${value}' (quote it, or use -- before a value)`,
      );
    }
    values.push(value);
  };

  for (const arg of argv) {
    if (arg === '---') {
      verbatim = !verbatim;
      continue;
    }
    if (!verbatim && !forceNext && arg === '--') {
      forceNext = true;
      continue;
    }
    const looksLikeOption = arg.length > 1 && arg.startsWith('-') && !NUMBER.test(arg);
    if (verbatim || forceNext || !looksLikeOption) {
      forceNext = false;
      addValue(arg);
      continue;
    }
    const word = arg.slice(1);
    if (current?.kind === 'command' && !table.some((o) => o.name === word)) {
      if (selects(word, table, mode)) optionLike.push(arg);
      addValue(arg);
      continue;
    }
    current = resolve(word, table, mode);
    out.set(current.name, []);
    // Its value is a batch system's options, which start with dashes: always the next word.
    if (current.name === 'slurmArgs') forceNext = true;
  }

  for (const [name, values] of out) {
    const def = table.find((o) => o.name === name)!;
    if (def.kind === 'value' && values.length === 0) {
      throw new QError(ErrorCodes.BAD_VALUE, `-${name} needs a value`);
    }
  }
  return out;
}

/** `--name=value` tokens for yargs; a value is never mistaken for an option this way. */
export function toYargsArgv(raw: RawOptions, mode: Mode): string[] {
  const table = optionsFor(mode);
  const tokens: string[] = [];
  for (const [name, values] of raw) {
    const def = table.find((o) => o.name === name)!;
    if (def.kind === 'bool') tokens.push(`--${name}=${values[0] ?? 'true'}`);
    else if (values.length === 0) tokens.push(`--${name}`);
    else for (const v of values) tokens.push(`--${name}=${v}`);
  }
  return tokens;
}
