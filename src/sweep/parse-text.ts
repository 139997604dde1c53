import { createRequire } from 'node:module';
import type { ConfigError } from '../flooding/config.js';

/**
 * The one parser of the JSON and YAML files a user gives (sweep specs, repro specs, baselines).
 * JSON.parse keeps the last of two equal keys without a word and words its errors by quoting the
 * text; here a duplicate key is an error, nesting is limited, and an error names only the file,
 * the line and the column, never the file's content.
 */

/** Deeper than any spec or baseline needs; a hostile file cannot exhaust the stack of the code that walks it. */
export const MAX_NESTING = 64;

/** The error a caller wants its problems in (SpecError, BaselineError). */
export type ProblemError = new (problems: string[]) => ConfigError;

/** A key named in an error: cut and quoted, as the field it is, not as the file's content. */
const MAX_KEY_SHOWN = 40;
const showKey = (key: string) => JSON.stringify(key.length > MAX_KEY_SHOWN ? `${key.slice(0, MAX_KEY_SHOWN)}…` : key);

class JsonProblem {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

const JSON_SPACE = /[ \t\n\r]*/y;
const JSON_NUMBER_OR_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

/**
 * Where the JSON string that starts at `at` ends (past its closing quote), or -1 if none starts
 * there. A loop, not a regular expression: a regex's backtracking stack overflows on a string of
 * some million characters, and a spec may hold one.
 */
function stringEnd(text: string, at: number): number {
  if (text[at] !== '"') return -1;
  for (let i = at + 1; i < text.length; ) {
    const code = text.charCodeAt(i);
    if (code === 0x22) return i + 1;
    if (code < 0x20) return -1;
    if (code !== 0x5c) {
      i += 1;
      continue;
    }
    const escaped = text[i + 1];
    if (escaped !== undefined && '"\\/bfnrt'.includes(escaped)) i += 2;
    else if (escaped === 'u' && HEX4.test(text.slice(i + 2, i + 6))) i += 6;
    else return -1;
  }
  return -1;
}
const VALUE = 'a value (string, number, object, array, true, false or null)';

/** Checks the JSON grammar, duplicate keys and nesting; throws a JsonProblem at the first offending character. */
function checkJson(text: string): void {
  let at = 0;
  const fail = (reason: string): never => {
    throw new JsonProblem(at, at >= text.length ? `ends early; expected ${reason}` : `expected ${reason}`);
  };
  const match = (pattern: RegExp): boolean => {
    pattern.lastIndex = at;
    const found = pattern.test(text);
    if (found) at = pattern.lastIndex;
    return found;
  };
  const string = (): boolean => {
    const end = stringEnd(text, at);
    if (end >= 0) at = end;
    return end >= 0;
  };
  const token = (char: string): boolean => {
    match(JSON_SPACE);
    if (text[at] !== char) return false;
    at += 1;
    return true;
  };
  const value = (depth: number): void => {
    match(JSON_SPACE);
    if (text[at] === '{' || text[at] === '[') {
      if (depth >= MAX_NESTING) throw new JsonProblem(at, `nested deeper than ${MAX_NESTING} levels`);
      if (token('{')) object(depth + 1);
      else if (token('[')) array(depth + 1);
    } else if (!string() && !match(JSON_NUMBER_OR_LITERAL)) fail(VALUE);
  };
  const object = (depth: number): void => {
    if (token('}')) return;
    const keys = new Set<string>();
    do {
      match(JSON_SPACE);
      const start = at;
      if (!string()) fail('a key in double quotes');
      const key = JSON.parse(text.slice(start, at)) as string;
      if (keys.has(key)) throw new JsonProblem(start, `duplicate key ${showKey(key)}`);
      keys.add(key);
      if (!token(':')) fail("':'");
      value(depth);
    } while (token(','));
    if (!token('}')) fail("',' or '}'");
  };
  const array = (depth: number): void => {
    if (token(']')) return;
    do value(depth);
    while (token(','));
    if (!token(']')) fail("',' or ']'");
  };
  value(0);
  match(JSON_SPACE);
  if (at < text.length) throw new JsonProblem(at, 'nothing after the JSON value');
}

function lineAndColumn(text: string, offset: number): string {
  const line = text.slice(0, offset).split('\n').length;
  const column = offset - text.lastIndexOf('\n', offset - 1);
  return `${line}:${column}`;
}

/** Parses JSON (a byte order mark allowed); problems are `source:line:column: invalid JSON: reason`. */
export function parseJsonText(
  text: string,
  source: string,
  error: ProblemError,
  reviver?: (key: string, value: unknown) => unknown,
): unknown {
  const content = text.replace(/^\uFEFF/, '');
  try {
    checkJson(content);
  } catch (problem) {
    if (!(problem instanceof JsonProblem)) throw problem;
    throw new error([`${source}:${lineAndColumn(content, problem.offset)}: invalid JSON: ${problem.reason}`]);
  }
  return JSON.parse(content, reviver);
}

/** Parses YAML with unique keys and limited nesting; problems are `source:line:column: invalid YAML: reason`. */
export function parseYamlText(text: string, source: string, error: ProblemError): unknown {
  // Loaded only for YAML files: it is a third of what `sweep validate` takes to start.
  const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const lineCounter = new yaml.LineCounter();
  const problem = (offset: number | undefined, reason: string) => {
    const position = offset === undefined ? undefined : lineCounter.linePos(offset);
    return `${source}${position ? `:${position.line}:${position.col}` : ''}: invalid YAML: ${reason}`;
  };
  const document = yaml.parseDocument(text.replace(/^\uFEFF/, ''), { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new error(
      document.errors.map((e) => {
        // The yaml parser recurses per level: a deep enough file overflows its stack.
        const reason = /call stack/i.test(e.message)
          ? `nested deeper than ${MAX_NESTING} levels`
          : e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
        return problem(e.pos[0], reason);
      }),
    );
  }
  const deep = tooDeepYamlNode(yaml, document.contents);
  if (deep) throw new error([problem(deep.range?.[0], `nested deeper than ${MAX_NESTING} levels`)]);
  try {
    return document.toJS();
  } catch (e) {
    // An alias to a missing anchor, or too many aliases.
    throw new error([problem(undefined, (e as Error).message.split('\n')[0])]);
  }
}

type YamlModule = typeof import('yaml');
type YamlNode = ReturnType<YamlModule['parseDocument']>['contents'];

/** The first collection nested deeper than MAX_NESTING, walked without recursion. */
function tooDeepYamlNode(yaml: YamlModule, root: YamlNode): NonNullable<YamlNode> | undefined {
  const pending: Array<{ node: unknown; depth: number }> = [{ node: root, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    if (!yaml.isCollection(node)) continue;
    if (depth >= MAX_NESTING) return node;
    for (const item of node.items) {
      if (yaml.isPair(item)) pending.push({ node: item.key, depth: depth + 1 }, { node: item.value, depth: depth + 1 });
      else pending.push({ node: item, depth: depth + 1 });
    }
  }
  return undefined;
}
