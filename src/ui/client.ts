/**
 * The dashboard's browser code, served as /assets/dashboard.js: browser/dashboard.ts, bundled by
 * esbuild the first time it is asked for (from src/ under tsx, from dist/ once compiled), after
 * the chart drawing the report inlines too.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { EMBED_CHARTS_SCRIPT } from '../report/interactive.js';

let bundled: string | undefined;

export function dashboardScript(): string {
  if (bundled === undefined) {
    const entry = ['ts', 'js']
      .map((extension) => fileURLToPath(new URL(`./browser/dashboard.${extension}`, import.meta.url)))
      .find(existsSync);
    if (!entry) throw new Error('the dashboard script browser/dashboard.ts is missing beside src/ui/client.ts');
    const { outputFiles } = buildSync({
      entryPoints: [entry],
      bundle: true,
      write: false,
      format: 'iife',
      target: 'es2020',
      logLevel: 'silent',
    });
    bundled = EMBED_CHARTS_SCRIPT + outputFiles[0].text;
  }
  return bundled;
}
