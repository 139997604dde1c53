/**
 * The folder rules of docs/architecture.md, checked over the import graph (static and dynamic
 * imports, type imports included): dependencies point one way, so each layer can be read, tested
 * and changed without the ones above it.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && /\.(ts|mjs)$/.test(entry.name))
    .map((entry) => path.relative(ROOT, path.join(entry.parentPath, entry.name)));
}

/** The project files a file imports, as paths from the project root (packages are left out). */
function projectImports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  // `import ... from '...'`, `export ... from '...'`, a side-effect `import '...'` and `import('...')`.
  const specifiers = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"`;]*?from\s+'([^']+)'|(?:^|\n)\s*import\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g),
  ].map((m) => m[1] ?? m[2] ?? m[3]);
  return specifiers
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) => path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, file)), specifier)).replace(/\.js$/, '.ts'));
}

function violations(folder: string, allowed: (target: string) => boolean): string[] {
  return sourceFiles(folder).flatMap((file) =>
    projectImports(file)
      .filter((target) => !allowed(target))
      .map((target) => `${file} -> ${target}`),
  );
}

const inside =
  (...folders: string[]) =>
  (target: string) =>
    folders.some((folder) => target === folder || target.startsWith(`${folder}/`));

test('the import scanner sees static, type, dynamic and side-effect imports', () => {
  const imports = projectImports('src/cli/run-progress.ts');
  assert.ok(imports.includes('src/errors.ts'), 'a static import');
  assert.ok(imports.includes('src/run.ts'), 'a type import');
  assert.ok(projectImports('src/cli/sweep/run.ts').includes('src/input-files.ts'), 'a dynamic import');
  assert.deepEqual(
    projectImports('test/fixtures/layering/side-effect.ts'),
    ['test/fixtures/layering/a.ts', 'test/fixtures/layering/b.ts', 'test/fixtures/layering/c.ts'],
    'a side-effect import, export-from and a multi-line import',
  );
});

/** The import circles among `files` (strongly connected components of two or more files, or a file importing itself). */
function circles(files: string[]): string[][] {
  const graph = new Map(files.map((file) => [file, projectImports(file).filter((target) => files.includes(target))]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (file: string) => {
    index.set(file, index.size);
    low.set(file, index.get(file)!);
    stack.push(file);
    for (const target of graph.get(file)!) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (stack.includes(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || graph.get(file)!.includes(file)) found.push(component.sort());
    }
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return found;
}

test('the circle finder finds a circle', () => {
  assert.deepEqual(circles(sourceFiles('test/fixtures/layering')), [['test/fixtures/layering/a.ts', 'test/fixtures/layering/b.ts']]);
});

test('no import circle anywhere in src/, functions/ or infra/, inside a folder or across folders', () => {
  assert.deepEqual(circles([...sourceFiles('src'), ...sourceFiles('functions'), ...sourceFiles('infra')]), []);
});

/**
 * The top-level files of src/ and what each may import. A new top-level file fails this test
 * until it is given its place here (and in docs/architecture.md).
 */
const LEAVES = ['src/env-names.ts', 'src/workflow-steps.ts', 'src/errors.ts', 'src/env.ts', 'src/user-paths.ts', 'src/control-chars.ts'];
const TOP_LEVEL: Record<string, (target: string) => boolean> = {
  // Constants that import nothing: infra/ may use them.
  'src/env-names.ts': () => false,
  'src/workflow-steps.ts': () => false,
  'src/errors.ts': inside('src/flooding/errors.ts'),
  'src/env.ts': inside('src/env-names.ts', 'src/errors.ts', 'src/flooding/names.ts'),
  'src/user-paths.ts': inside('src/errors.ts'),
  'src/control-chars.ts': () => false,
  // Reading what the user names, and the files a spec names: above sweep/, below the workflow.
  'src/input-files.ts': inside(...LEAVES, 'src/sweep'),
  'src/planned-tasks.ts': inside(...LEAVES, 'src/sweep', 'src/flooding'),
  // The run and the library's API: anything but the CLI.
  'src/run.ts': (target) => !inside('src/cli', 'src/index.ts', 'src/cost/command.ts', 'src/cost/format.ts')(target),
  'src/index.ts': (target) => !inside('src/cli', 'src/cost/command.ts', 'src/cost/format.ts')(target),
};

test('every top-level file of src/ has its place, and keeps to it', () => {
  const topLevel = readdirSync(path.join(ROOT, 'src'))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => `src/${name}`);
  assert.deepEqual(
    topLevel.filter((file) => !(file in TOP_LEVEL)),
    [],
    'top-level files without a rule',
  );
  assert.deepEqual(
    topLevel.flatMap((file) =>
      projectImports(file)
        .filter((target) => !TOP_LEVEL[file](target))
        .map((target) => `${file} -> ${target}`),
    ),
    [],
  );
});

test('src/cost: the price model is pure; the estimate trains; the command and its formatting are CLI', () => {
  assert.deepEqual(
    projectImports('src/cost/model.ts').filter((target) => !inside(...LEAVES, 'src/flooding', 'src/sweep')(target)),
    [],
  );
  const cliPart = inside('src/cost/command.ts', 'src/cost/format.ts');
  const importers = sourceFiles('src').filter((file) => !inside('src/cli')(file) && !cliPart(file) && projectImports(file).some(cliPart));
  assert.deepEqual(importers, [], 'only the CLI imports the cost command and its formatting');
});

test('src/flooding imports nothing else of the project', () => {
  assert.deepEqual(violations('src/flooding', inside('src/flooding')), []);
});

test('src/sweep is pure: it imports neither the stores, the report, the workflow nor the CLI', () => {
  assert.deepEqual(violations('src/sweep', inside('src/sweep', 'src/flooding', 'src/cost/model.ts', ...LEAVES)), []);
});

test('src/store and src/report know nothing of the workflow, the run or the CLI', () => {
  const allowed = inside('src/store', 'src/sweep', 'src/flooding', 'src/cost/model.ts', ...LEAVES);
  assert.deepEqual(violations('src/store', allowed), []);
  assert.deepEqual(violations('src/report', inside('src/report', 'src/sweep', 'src/flooding', 'src/cost/model.ts', ...LEAVES)), []);
  assert.ok(!sourceFiles('src/store').some((file) => projectImports(file).some(inside('src/report'))), 'the stores do not draw');
});

test('src/ui (the dashboard) reads through the stores and draws with the report; it reaches neither the workflow nor the CLI', () => {
  const allowed = inside('src/ui', 'src/store', 'src/sweep', 'src/report', 'src/flooding', 'src/cost/model.ts', ...LEAVES);
  assert.deepEqual(violations('src/ui', allowed), []);
  const importers = sourceFiles('src').filter((file) => !inside('src/ui')(file) && projectImports(file).some(inside('src/ui')));
  assert.deepEqual(importers, ['src/cli/ui.ts'], 'only the ui command starts the dashboard');
  const staticImports = [...readFileSync(path.join(ROOT, 'src/cli/ui.ts'), 'utf8').matchAll(/^import [^;]*? from '([^']+)'/gm)].map(
    (m) => m[1],
  );
  assert.ok(
    !staticImports.some((specifier) => specifier.startsWith('../ui/')),
    '`floodsweep --help` must not load the server: import it in the action',
  );
});

test('src/workflow is the only place that combines sweep, store and report; it does not reach up to the run or the CLI', () => {
  assert.deepEqual(
    violations('src/workflow', (target) => !inside('src/cli', 'src/run.ts', 'src/index.ts')(target)),
    [],
  );
  const drawing = sourceFiles('src').filter((file) => !inside('src/report')(file) && projectImports(file).some(inside('src/report')));
  assert.deepEqual(
    drawing.filter((file) => !inside('src/workflow', 'src/cli', 'src/ui')(file)),
    [],
    'outside the workflow, only the CLI (the demo figures) and the dashboard draw',
  );
});

test('only the CLI imports the CLI; handlers call the workflow steps', () => {
  // The cost feature's command and formatting (src/cost/command.ts, format.ts) are CLI code in the cost folder.
  const outside = [...sourceFiles('src'), ...sourceFiles('functions'), ...sourceFiles('infra')].filter(
    (file) => !inside('src/cli', 'src/cost/command.ts', 'src/cost/format.ts')(file),
  );
  assert.deepEqual(
    outside.flatMap((file) =>
      projectImports(file)
        .filter(inside('src/cli'))
        .map((target) => `${file} -> ${target}`),
    ),
    [],
  );
  // Handlers call workflow steps; functions/check-training.ts, the training image's build check, trains one epoch.
  assert.deepEqual(violations('functions', inside('functions', 'src/workflow', 'src/store/open.ts', 'src/env.ts', 'src/flooding')), []);
});

test('infra/ imports no runtime code of src/, only the constant files that import nothing', () => {
  const constants = ['src/env-names.ts', 'src/workflow-steps.ts', 'src/store/metrics-table.ts'];
  assert.deepEqual(violations('infra', inside('infra', ...constants)), []);
  for (const file of constants) assert.deepEqual(projectImports(file), [], file);
});
