/**
 * The dashboard end to end, in Debian's Chromium driven by playwright-core: a sweep runs (runSweep,
 * in process) while its page is open; the page updates without a reload, draws its charts, shows
 * the curves of a picked level, and asks nothing of any host but the dashboard's. Also the error
 * pages, the `floodsweep ui` command, and the screenshots in docs/.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';
import { runSweep, type SweepRunResult } from '../src/run.js';
import { openStores } from '../src/store/open.js';
import { sweepKeys } from '../src/store/ports.js';
import { validateSpec } from '../src/sweep/spec.js';
import { type Dashboard, startDashboard } from '../src/ui/server.js';
import { show, startCli } from './cli-helpers.js';

/** The screenshots go to docs/ only when asked (UPDATE_SCREENSHOTS=1): a test run leaves the tree as it was. */
const SCREENSHOTS =
  process.env.UPDATE_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../docs/', import.meta.url))
    : mkdtempSync(join(tmpdir(), 'floodsweep-screenshots-'));
const dir = mkdtempSync(join(tmpdir(), 'floodsweep-dashboard-test-'));
const stores = openStores({ kind: 'local', rootDir: dir });

/** Long enough (in epochs) that the page is open before the sweep ends. */
const SPEC = validateSpec({
  name: 'dashboard-test',
  dataset: { name: 'sinusoid2d', nTrain: 128, nVal: 64, nTest: 256 },
  model: { kind: 'mlp', depth: 2, width: 16 },
  training: { epochs: 60, batchSize: 32, evalEvery: 5 },
  floodLevels: [0, 0.3],
  seeds: [0, 1],
});

let browser: Browser;
let dashboard: Dashboard;
before(async () => {
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  dashboard = await startDashboard({ stores });
});
after(async () => {
  await browser?.close();
  await dashboard?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A page that records every request it makes. */
async function openPage(): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  return { page, requests };
}

/** The <progress> element's numbers (the tests compile without the DOM types). */
interface ProgressBar {
  value: number;
  max: number;
}

const outsideDashboard = (requests: string[]) => requests.filter((url) => !url.startsWith(dashboard.url) && !url.startsWith('data:'));

describe('a sweep watched while it runs', () => {
  let finished: Promise<SweepRunResult>;
  let sweepId: string;
  let page: Page;
  let requests: string[];

  before(async () => {
    ({ page, requests } = await openPage());
    const started = new Promise<string>((resolve) => {
      finished = runSweep(SPEC, {
        stores: { kind: 'local', rootDir: dir },
        workers: 1,
        onEvent: (event) => event.type === 'started' && resolve(event.sweepId),
      });
    });
    sweepId = await started;
  });

  test('the progress updates without a reload until the sweep succeeds', async () => {
    await page.goto(`${dashboard.url}sweeps/${sweepId}`);
    await page.evaluate(() => Object.assign(globalThis, { loadedOnce: true }));
    const progressAtFirst = await page.locator('#progress').evaluate((element) => (element as unknown as ProgressBar).value);
    await finished;
    await page.locator('#status', { hasText: 'SUCCEEDED' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.evaluate(() => (globalThis as { loadedOnce?: boolean }).loadedOnce), true, 'the page was not reloaded');
    const progress = await page.locator('#progress').evaluate((element) => {
      const bar = element as unknown as ProgressBar;
      return { value: bar.value, max: bar.max };
    });
    assert.equal(progress.value, progress.max);
    assert.ok(progressAtFirst < progress.value, `progress went from ${progressAtFirst} to ${progress.value}`);
    assert.match((await page.locator('#progress-text').textContent()) ?? '', /^4 of 4 tasks done, 0 failed/);
  });

  test('the accuracy chart renders, with the chosen level and the statistics table', async () => {
    await page.locator('#accuracy-chart-0 svg .mark-area').waitFor();
    assert.match((await page.locator('.chosen-level').first().textContent()) ?? '', /^b = (0|0\.3)$/);
    assert.equal(await page.locator('table.statistics tbody tr').count(), 2);
    assert.match((await page.locator('h1').textContent()) ?? '', /^Sweep dashboard-test/);
  });

  test('parallel coordinates draw one line per run over b and the clean test accuracy', async () => {
    await page.locator('#parallel svg .mark-line').first().waitFor({ state: 'attached' });
    assert.equal(await page.locator('#parallel svg .mark-line').count(), 4, 'one line per run: 2 levels x 2 seeds');
    const axes = (await page.locator('#parallel svg').first().textContent()) ?? '';
    assert.match(axes, /clean test acc \(%\)/);
  });

  test('picking a level draws the curves of its seeds', async () => {
    await page.locator('#level-picker').selectOption('0.3');
    const legend = page.locator('#curves svg .role-legend');
    await legend.first().waitFor();
    const text = await page.locator('#curves svg').first().textContent();
    assert.match(text ?? '', /b=0\.3 seed 0/);
    assert.match(text ?? '', /b=0\.3 seed 1/);
    assert.doesNotMatch(text ?? '', /b=0 seed/);
    assert.equal(await page.locator('#tasks input[type=checkbox]:checked').count(), 2);
    await page.screenshot({ path: join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
  });

  test('the sweep list, the comparison page and the report (its interactive charts drawn) load nothing from outside', async () => {
    await page.goto(dashboard.url);
    assert.deepEqual((await page.locator('#sweeps tbody td').allTextContents()).slice(1, 5), ['SUCCEEDED', '4', '0', '4']);
    await page.goto(`${dashboard.url}compare?a=${sweepId}&b=${sweepId}`);
    await page.locator('#compare-0-1 svg').waitFor();
    assert.deepEqual(outsideDashboard(requests), []);

    const report = await openPage();
    await report.page.goto(`file://${stores.artifacts.locate(sweepKeys(sweepId).report)}`);
    await report.page.locator('#group-1-curves svg').waitFor();
    await report.page.screenshot({ path: join(SCREENSHOTS, 'report.png'), fullPage: true });
    assert.deepEqual(
      report.requests.filter((url) => !url.startsWith('file://') && !url.startsWith('data:')),
      [],
    );
  });
});

test('bad ids and unknown pages get a clear page, never a stack trace', async () => {
  const { page } = await openPage();
  for (const [path, status, text] of [
    ['sweeps/no-such-sweep', 404, /there is no sweep "no-such-sweep"/],
    ['sweeps/%3Cb%3Ebold', 400, /invalid sweepId "<b>bold"/],
    ['nowhere', 404, /nothing at \/nowhere/],
  ] as const) {
    const response = await page.goto(`${dashboard.url}${path}`);
    assert.equal(response?.status(), status, path);
    const body = (await page.locator('body').textContent()) ?? '';
    assert.match(body, text);
    assert.doesNotMatch(body, /\n\s+at /, 'no stack trace');
  }
  const api = await fetch(`${dashboard.url}api/sweeps/no-such-sweep`);
  assert.equal(api.status, 404);
  assert.match(((await api.json()) as { error: string }).error, /no sweep/);
});

/** A GET with the Host header a browser would send for `host` (fetch may not set Host). */
function getWithHost(path: string, host: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const { port } = new URL(dashboard.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    req.on('error', reject).end();
  });
}

test('a request for another host name (DNS rebinding) is refused; pages forbid framing and sniffing', async () => {
  const { port } = new URL(dashboard.url);
  for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1:${Number(port) + 1}`, `127.0.0.1.nip.io:${port}`]) {
    const refused = await getWithHost('/', host);
    assert.equal(refused.status, 421, host);
    assert.equal(refused.body, 'wrong host: this dashboard answers only at its own address\n');
    const api = await getWithHost('/api/sweeps/x', host);
    assert.equal(api.status, 421, host);
  }
  const own = await getWithHost('/', `127.0.0.1:${port}`);
  assert.equal(own.status, 200);
  assert.match(String(own.headers['content-security-policy']), /frame-ancestors 'none'/);
  assert.equal(own.headers['x-content-type-options'], 'nosniff');
  assert.equal(own.headers['x-frame-options'], 'DENY');
});

test('no page, error or API answer names the results directory by its absolute path', async () => {
  const { port } = new URL(dashboard.url);
  for (const path of ['/', '/sweeps/no-such-sweep', '/api/sweeps/no-such-sweep', '/nowhere']) {
    const answer = await getWithHost(path, `127.0.0.1:${port}`);
    assert.ok(!answer.body.includes(dir), `${path}: ${answer.body.slice(0, 300)}`);
  }
});

test('an unreachable store is a page that says so', async () => {
  // Credentials that let the SDK get as far as the (closed) endpoint.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  const unreachable = await startDashboard({
    stores: openStores({ kind: 'aws', table: 't', bucket: 'b', region: 'us-east-1', endpointUrl: 'http://127.0.0.1:9' }),
  });
  try {
    const response = await fetch(unreachable.url);
    assert.equal(response.status, 503);
    const body = await response.text();
    assert.match(body, /The results store could not be read/);
    assert.doesNotMatch(body, /\n\s+at /);
  } finally {
    await unreachable.close();
  }
});

test('floodsweep ui prints its URL and serves the sweeps; a bad or busy --port is one line, exit 2', async () => {
  const { child, result } = startCli(['ui', '--results', dir]);
  const url = await new Promise<string>((resolve) =>
    child.stdout!.on('data', (chunk: Buffer) => {
      const match = /http:\/\/127\.0\.0\.1:\d+\//.exec(String(chunk));
      if (match) resolve(match[0]);
    }),
  );
  assert.equal((await fetch(url)).status, 200);
  child.kill('SIGINT');
  const stopped = await result;
  assert.equal(stopped.code, 0, show(stopped));

  const { result: bad } = startCli(['ui', '--results', dir, '--port', 'http']);
  const r = await bad;
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /^floodsweep: --port: "http": expected a port, 0-65535 \(see .* ui --help\)\n$/);

  const taken = new URL(dashboard.url).port;
  const busy = await startCli(['ui', '--results', dir, '--port', taken]).result;
  assert.equal(busy.code, 2, show(busy));
  assert.equal(busy.stderr, `floodsweep: --port: ${taken} is in use; pick another or leave --port out\n`);
});
