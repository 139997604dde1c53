/**
 * Hostile input through the real CLI: every `test/fixtures/hostile/*.expect.json` names a command
 * (placeholders: {fixture} the file it describes, {here} the fixture directory, {dir} a fresh
 * working directory, {results} a results directory in it, {copy} the fixture copied into it as
 * `copyAs`) and what the user must see. A refused input exits 2 with one line on stderr naming
 * the problem, no stack trace, and writes nothing. Whatever the outcome, no control character
 * reaches the terminal raw and no file content named in `absent` shows.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { floodsweep, show } from './cli-helpers.js';

const HOSTILE = new URL('./fixtures/hostile/', import.meta.url).pathname;
const EXPECT = '.expect.json';

interface Expectation {
  args: string[];
  exit: number;
  /** Fragments of stderr and stdout. */
  stderr?: string;
  stderrAlso?: string;
  stdout?: string;
  /** Lines on stderr (default: 1 when the input is refused). */
  lines?: number;
  /** Files made in the working directory beforehand. */
  files?: Record<string, string>;
  copyAs?: string;
  /** Text of the fixtures that must not be printed. */
  absent?: string[];
  maxSeconds?: number;
}

/** What a terminal would obey: C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides and isolates. */
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const work = mkdtempSync(join(tmpdir(), 'floodsweep-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));

const cases = readdirSync(HOSTILE)
  .filter((name) => name.endsWith(EXPECT))
  .sort();

describe('hostile input through the CLI', () => {
  test('the corpus has its cases', () => assert.ok(cases.length >= 20, `${cases.length} cases`));

  for (const name of cases) {
    test(name.slice(0, -EXPECT.length), async () => {
      const expected = JSON.parse(readFileSync(join(HOSTILE, name), 'utf8')) as Expectation;
      const dir = mkdtempSync(join(work, 'case-'));
      for (const [file, text] of Object.entries(expected.files ?? {})) writeFileSync(join(dir, file), text);
      const fixture = join(HOSTILE, name.slice(0, -EXPECT.length));
      if (expected.copyAs) copyFileSync(fixture, join(dir, expected.copyAs));
      const before = readdirSync(dir).sort();
      const fill = (text: string) =>
        text
          .replaceAll('{fixture}', fixture)
          .replaceAll('{here}', HOSTILE.replace(/\/$/, ''))
          .replaceAll('{results}', join(dir, 'results'))
          .replaceAll('{copy}', expected.copyAs ?? '')
          .replaceAll('{dir}', dir);
      const started = Date.now();
      const result = await floodsweep(expected.args.map(fill), { cwd: dir, timeoutMs: 60_000 });
      const seconds = (Date.now() - started) / 1000;

      assert.equal(result.code, expected.exit, show(result));
      if (expected.stderr) assert.ok(result.stderr.includes(fill(expected.stderr)), show(result));
      if (expected.stderrAlso) assert.ok(result.stderr.includes(fill(expected.stderrAlso)), show(result));
      if (expected.stdout) assert.ok(result.stdout.includes(fill(expected.stdout)), show(result));
      assert.doesNotMatch(result.stdout + result.stderr, RAW_CONTROL, show(result));
      for (const text of expected.absent ?? []) assert.ok(!(result.stdout + result.stderr).includes(text), show(result));
      if (expected.maxSeconds) assert.ok(seconds < expected.maxSeconds, `took ${seconds}s`);
      if (expected.exit === 2) {
        const lines = result.stderr.trimEnd().split('\n');
        assert.equal(lines.length, expected.lines ?? 1, show(result));
        assert.ok(
          lines.every((line) => line.startsWith('floodsweep: ')),
          show(result),
        );
        assert.doesNotMatch(result.stderr, /^\s+at |--debug/m, show(result));
        assert.equal(result.stdout, '', show(result));
        assert.deepEqual(readdirSync(dir).sort(), before, 'a refused input writes nothing');
      }
    });
  }
});
