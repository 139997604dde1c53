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
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g)].map(
    (m) => m[1] ?? m[2],
  );
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

test('the import scanner sees static, type and dynamic imports', () => {
  const imports = projectImports('src/cli/sweep.ts');
  assert.ok(imports.includes('src/errors.ts'), 'a static import');
  assert.ok(imports.includes('src/run.ts'), 'a type import');
  assert.ok(imports.includes('src/input-files.ts'), 'a dynamic import');
});

test('src/flooding imports nothing else of the project', () => {
  assert.deepEqual(violations('src/flooding', inside('src/flooding')), []);
});

test('src/sweep is pure: it imports neither the stores, the report, the workflow nor the CLI', () => {
  assert.deepEqual(
    violations(
      'src/sweep',
      inside('src/sweep', 'src/flooding', 'src/env.ts', 'src/env-names.ts', 'src/workflow-steps.ts', 'src/errors.ts'),
    ),
    [],
  );
});

test('src/store and src/report know nothing of the workflow, the run or the CLI', () => {
  const allowed = inside('src/store', 'src/sweep', 'src/flooding', 'src/env.ts', 'src/env-names.ts', 'src/errors.ts');
  assert.deepEqual(violations('src/store', allowed), []);
  assert.deepEqual(
    violations('src/report', inside('src/report', 'src/sweep', 'src/flooding', 'src/env.ts', 'src/env-names.ts', 'src/errors.ts')),
    [],
  );
  assert.ok(!sourceFiles('src/store').some((file) => projectImports(file).some(inside('src/report'))), 'the stores do not draw');
});

test('src/ui (the dashboard) reads through the stores and draws with the report; it reaches neither the workflow nor the CLI', () => {
  const allowed = inside(
    'src/ui',
    'src/store',
    'src/sweep',
    'src/report',
    'src/flooding',
    'src/env.ts',
    'src/env-names.ts',
    'src/errors.ts',
  );
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
  const outside = [...sourceFiles('src'), ...sourceFiles('functions'), ...sourceFiles('infra')].filter((file) => !inside('src/cli')(file));
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
