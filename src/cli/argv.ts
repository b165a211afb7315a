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
import { optionsFor, OPTIONS, SPEC_OPTIONS, type Mode, type OptionDef } from './options.js';
import { figChoice } from './figOptions.js';

export type RawOptions = Map<string, string[]>;

const NUMBER = /^-(\d+(\.\d*)?|\.\d+)$/;
/** A word after a flag that follows one of these is one more SPEC. */
const SPEC_LISTS: ReadonlySet<string> = new Set(SPEC_OPTIONS);

/** Edit distance (insert, delete, replace, swap two neighbours), for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The option a mistyped word most likely meant, if one is close. */
function closest(word: string, table: readonly OptionDef[]): string | null {
  let best: { name: string; d: number } | null = null;
  for (const o of table) {
    const d = distance(word.toLowerCase(), o.name.toLowerCase());
    if (d <= Math.max(1, Math.floor(o.name.length / 3)) && (!best || d < best.d)) best = { name: o.name, d };
  }
  return best?.name ?? null;
}

function resolve(word: string, table: readonly OptionDef[], mode: Mode): OptionDef {
  const exact = table.find((o) => o.name === word);
  if (exact) return exact;
  const matches = table.filter((o) => o.name.startsWith(word));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    const near = closest(word, table);
    throw new QError(ErrorCodes.BAD_OPTION, `unknown option -${word}${near ? `: did you mean -${near}?` : ''} (see q -help)`);
  }
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
  /** The last list option given (`-list`, `-kill`…): a word after a flag that follows it is its. */
  let lastList: OptionDef | null = null;
  let verbatim = false;
  let forceNext = false;

  const addValue = (value: string) => {
    if (!current) {
      throw new QError(ErrorCodes.BAD_OPTION, `unexpected argument '${value}' (it follows no option that takes values)`);
    }
    const values = out.get(current.name)!;
    if (current.kind === 'bool') {
      if (value !== 'true' && value !== 'false' && lastList && values.length === 0) {
        // `-list -json J-x`: the flag is set, and J-x is one of -list's SPECs.
        current = lastList;
        out.get(lastList.name)!.push(value);
        return;
      }
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
    // A word of a dash and a digit where a value is due (`-time -5m`) is that value, wrong or
    // not: its own check says what it should be, rather than 'unknown option -5m'.
    if (!verbatim && !forceNext && current?.kind === 'value' && out.get(current.name)!.length === 0 && /^-\d/.test(arg)) {
      addValue(arg);
      continue;
    }
    const looksLikeOption = arg.length > 1 && arg.startsWith('-') && !NUMBER.test(arg);
    if (verbatim || forceNext || !looksLikeOption) {
      forceNext = false;
      addValue(arg);
      continue;
    }
    if (current?.kind === 'command' && !table.some((o) => o.name === arg.slice(1))) {
      // One- and two-letter flags (`ls -l`, `sh -c`, `rm -rf`) are the command's own; a
      // longer word that a q option starts with (fig's `-prio`) is worth a warning.
      if (arg.length > 3 && !arg.startsWith('--') && selects(arg.slice(1), table, mode)) optionLike.push(arg);
      addValue(arg);
      continue;
    }
    // GNU style: `--list`, `--help`, `--version` are -list, -help, -version.
    const word = arg.startsWith('--') ? arg.slice(2) : arg.slice(1);
    current = resolve(word, table, mode);
    out.set(current.name, []);
    if (current.kind === 'list' && SPEC_LISTS.has(current.name)) lastList = current;
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
