/**
 * `floodsweep ui`: a read-only web app over the stores, on Node's http module, bound to 127.0.0.1.
 * Pages are rendered here; the vega scripts are served from node_modules, so a page never asks
 * anything of another host. Errors become a page (or JSON for the API) with one clear message.
 *
 * A loopback address is no boundary against a web page the user opens elsewhere: through DNS
 * rebinding its script can reach 127.0.0.1 under its own host name. So only requests whose Host
 * is this server's own address and port are answered, no page may be framed, and no page, error
 * or API answer names the results directory by its absolute path.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { kindOf } from '../errors.js';
import { accuracyVsLevelSpec, curvesSpec, parallelCoordinatesSpec, readVegaScript, sampledAxesSpec } from '../report/interactive.js';
import type { Stores } from '../store/open.js';
import { validateId } from '../store/ports.js';
import { formatLevel } from '../sweep/aggregate.js';
import { dashboardScript } from './client.js';
import { loadSweepList, loadSweepView, SweepNotFound } from './data.js';
import { comparisonPage, errorPage, sweepListPage, sweepPage } from './pages.js';

export interface DashboardOptions {
  stores: Stores;
  /** 0 (the default): a free port. */
  port?: number;
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startDashboard({ stores, port = 0 }: DashboardOptions): Promise<Dashboard> {
  const root = stores.artifacts.locate('');
  const where = shownName(root);
  let ownHosts: ReadonlySet<string> = new Set();
  const server = createServer((request, response) => {
    // A page of another site, reaching this port by DNS rebinding, learns nothing: not even where the results are.
    if (!ownHosts.has(request.headers.host ?? ''))
      return send(response, 421, 'text/plain', 'wrong host: this dashboard answers only at its own address\n');
    // Whatever a page or an answer quotes (a damaged file's name, an error), the results directory shows by its name only.
    const end = response.end.bind(response) as (body?: string) => ServerResponse;
    response.end = ((body?: unknown) =>
      end(typeof body === 'string' && root.startsWith('/') ? body.replaceAll(root, where) : (body as string))) as typeof response.end;
    handle(stores, where, request, response).catch((error) => respondWithError(where, request, response, error));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  const { port: bound } = server.address() as AddressInfo;
  ownHosts = new Set([`${HOST}:${bound}`, `localhost:${bound}`]);
  return {
    url: `http://${HOST}:${bound}/`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(stores: Stores, where: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'Read only', 'the dashboard only reads: use GET');
  const url = new URL(request.url ?? '/', `http://${HOST}`);
  const parts = url.pathname.split('/').filter(Boolean).map(decodePathSegment);
  const [first, second, third, fourth] = parts;

  if (parts.length === 0) return send(response, 200, 'text/html', sweepListPage(where, await loadSweepList(stores)));
  if (first === 'sweeps' && second && parts.length === 2) {
    const view = await loadSweepView(stores, second);
    return send(response, 200, 'text/html', sweepPage(where, view.sweep));
  }
  if (first === 'compare' && parts.length === 1) {
    const [a, b] = ['a', 'b'].map((name) => url.searchParams.get(name));
    if (!a || !b) throw new HttpError(400, 'Two sweeps needed', 'choose two sweeps to compare (?a=ID&b=ID)');
    const [viewA, viewB] = await Promise.all([loadSweepView(stores, a), loadSweepView(stores, b)]);
    return send(response, 200, 'text/html', comparisonPage(where, viewA.summary, viewB.summary));
  }
  if (first === 'api' && second === 'sweeps' && third && parts.length === 3) {
    const view = await loadSweepView(stores, third);
    const charts = view.summary.groups.map((group) =>
      group.levels.some((level) => level.testCleanAcc) ? accuracyVsLevelSpec(group) : null,
    );
    return send(
      response,
      200,
      'application/json',
      JSON.stringify({ ...view, charts, parallel: parallelCoordinatesSpec(view.summary), sampled: sampledAxesSpec(view.summary) }),
    );
  }
  if (first === 'api' && second === 'sweeps' && third && fourth === 'curves' && parts.length === 4) {
    const view = await loadSweepView(stores, third);
    const taskIds = url.searchParams.getAll('task').map((id) => validateId('taskId', id));
    const runs = await Promise.all(
      taskIds.map(async (taskId) => {
        const task = view.tasks.find((t) => t.taskId === taskId);
        if (!task) throw new HttpError(404, 'No such task', `sweep ${third} has no task "${taskId}"`);
        return {
          label: `b=${formatLevel(task.floodLevel)} seed ${task.seed} (${taskId})`,
          rows: await stores.metrics.getEpochs(third, taskId),
        };
      }),
    );
    return send(response, 200, 'application/json', JSON.stringify(curvesSpec(runs)));
  }
  if (first === 'assets' && second && parts.length === 2) {
    const script = second === 'dashboard.js' ? dashboardScript() : readVegaScript(second);
    if (script !== undefined) return send(response, 200, 'text/javascript', script, 'max-age=3600');
  }
  throw new HttpError(404, 'Not found', `nothing at ${url.pathname}`);
}

function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpError(400, 'Bad request', `the address has a malformed escape: ${segment}`);
  }
}

/** A local results directory is shown by its name, not its absolute path; a bucket as itself. */
function shownName(root: string): string {
  return root.startsWith('/') ? basename(root) : root;
}

function send(response: ServerResponse, status: number, type: string, body: string, cache = 'no-store'): void {
  response.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'cache-control': cache,
    // The pages load scripts from this server only, the scripts fetch from it only, and no other page may frame them.
    'content-security-policy':
      "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; script-src 'self' 'unsafe-eval'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  });
  response.end(body);
}

/** A clear status and message for every failure; the stack trace stays out of it. */
function respondWithError(where: string, request: IncomingMessage, response: ServerResponse, error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  const [status, title] =
    error instanceof HttpError
      ? [error.status, error.title]
      : error instanceof SweepNotFound
        ? [404, 'Sweep not found']
        : kindOf(error) === 'input'
          ? [400, 'Bad request']
          : kindOf(error) === 'internal'
            ? [500, 'Internal error']
            : [503, 'The results store could not be read'];
  if (status >= 500) process.stderr.write(`floodsweep ui: ${request.url}: ${message}\n`);
  if (response.headersSent) return void response.end();
  const isApi = (request.url ?? '').startsWith('/api/');
  send(
    response,
    status,
    isApi ? 'application/json' : 'text/html',
    isApi ? JSON.stringify({ error: message }) : errorPage(where, title, message),
  );
}
