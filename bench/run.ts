/**
 * `npm run bench`: speed of the demo MLP per tfjs backend (wasm, tfjs-node where installed), side
 * by side with the same loop in PyTorch (bench/reference_torch.py) when it is installed, the
 * speed-up of 1 vs N worker processes, and the whole demo's wall time on each backend and in
 * PyTorch. Options: --json (machine-readable results on stdout), --with-cpu (also the slow pure-JS
 * backend), --smoke (every measurement once on tiny sizes: CI's check that the benchmark runs; its
 * figures mean nothing). Progress goes to stderr. docs/benchmarks.md describes the figures.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { BackendName } from '../src/flooding/names.js';
import { type DemoFigures, FULL_DEMO, measureDemo, SMOKE_DEMO } from './demo.js';
import {
  CPU_PLAN,
  demoWorkload,
  evalSamplesPerEpoch,
  FULL_PLAN,
  forwardFlopsPerSample,
  type Plan,
  SMOKE_PLAN,
  trainFlopsPerSample,
  type Workload,
} from './plan.js';
import { measureScaling, SCALING_PLAN, type Scaling, SMOKE_SCALING_PLAN } from './scaling.js';
import { type BatchSizeFigures, type Figures, measureTfjs, type TfjsFigures } from './tfjs.js';
import { findTorchPython, measureTorch, REFERENCE_BLAS_HINT, TORCH_MISSING_HINT, type TorchFigures } from './torch.js';

/** The issues' targets. */
const MAX_EPOCH_SLOWDOWN_VS_TORCH = 2;
/** The demo's training step (its train-only epoch: one 100-sample step) against PyTorch on one thread. */
const MAX_DEMO_STEP_SLOWDOWN_VS_TORCH = 3;
/** Training GFLOP/s as a share of the step's products alone on the same backend. */
const MIN_SHARE_OF_PRODUCTS = 0.6;
const MIN_WORKER_SPEED_UP = 1.8;
/** A measurement that got less of its cores than this ran on a busy machine (other processes took turns). */
const MIN_CORE_SHARE = 0.9;
/** The whole demo's wall time against the PyTorch reference doing the same work. */
const MAX_DEMO_RATIO_TFJS_NODE = 0.7;
const MAX_DEMO_RATIO_WASM = 1.6;
/** The demo's evaluation on tfjs-node, as a share of the matmul ceiling. */
const MIN_EVAL_SHARE_OF_CEILING = 0.8;

type Verdict = 'met' | 'NOT met' | 'inconclusive';

interface Rates {
  trainStepsPerSecond: number;
  trainGflops: number;
  evalSamplesPerSecond: number;
  evalGflops: number;
  epochTrainOnlySeconds: number;
  epochWithEvalSeconds?: number;
  epochTrainOnlyCpuSeconds: number;
  epochWithEvalCpuSeconds?: number;
}

interface TorchReference {
  python: string;
  oneThread: TorchFigures;
  allThreads?: TorchFigures;
}

type Slowdown = ReturnType<typeof slowdownOf>;

interface Measurements {
  startedAt: Date;
  workload: Workload;
  cores: number;
  loadAverage: { start: number; end: number };
  tfjs: TfjsFigures[];
  wasm: TfjsFigures;
  torch?: TorchReference;
  scaling?: Scaling;
  demo: DemoFigures;
  smoke: boolean;
  notes: string[];
  seconds: number;
}

async function main(): Promise<void> {
  let options: { json: boolean; withCpu: boolean; smoke: boolean };
  try {
    const { values } = parseArgs({
      options: {
        json: { type: 'boolean', default: false },
        'with-cpu': { type: 'boolean', default: false },
        smoke: { type: 'boolean', default: false },
      },
    });
    options = { json: values.json, withCpu: values['with-cpu'], smoke: values.smoke };
  } catch (error) {
    console.error(`bench: ${(error as Error).message}; allowed: --json, --with-cpu, --smoke`);
    process.exit(2);
  }
  const measured = await measure(options.withCpu, options.smoke);
  if (!measured) return;
  const results = summarizeResults(measured);
  console.log(options.json ? JSON.stringify(results, null, 2) : report(measured, results).join('\n'));
}

async function measure(withCpu: boolean, smoke: boolean): Promise<Measurements | undefined> {
  const startedAt = new Date();
  const began = performance.now();
  const progress = (line: string) => console.error(`[${((performance.now() - began) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  const workload = demoWorkload();
  const cores = availableParallelism();
  const loadAtStart = loadavg()[0];
  const notes: string[] = [];

  const plan = smoke ? SMOKE_PLAN : FULL_PLAN;
  const backends: Array<{ name: BackendName; plan: Plan }> = [{ name: 'wasm', plan }];
  if (withCpu) backends.push({ name: 'cpu', plan: smoke ? SMOKE_PLAN : CPU_PLAN });
  else notes.push('cpu: not measured (30-50x slower than wasm); add --with-cpu');
  backends.push({ name: 'tfjs-node', plan });

  const tfjs: TfjsFigures[] = [];
  let torch: TorchReference | undefined;
  for (const { name, plan } of backends) {
    const measured = await measureTfjs(name, workload, plan, progress);
    if ('unavailable' in measured) {
      if (name === 'wasm') {
        // Every comparison and the worker pools are about wasm.
        console.error(`bench: ${measured.unavailable}`);
        process.exitCode = 1;
        return undefined;
      }
      // The message's first clause says what failed; the rest is advice for the CLI's --backend option.
      notes.push(`${name}: not measured: ${measured.unavailable.split(';')[0]}`);
      continue;
    }
    tfjs.push(measured);
    // PyTorch runs right after wasm, so that the ratios come from the same minutes of machine load.
    if (name === 'wasm') torch = measureReference(workload, cores, plan, progress, notes);
  }

  let scaling: Scaling | undefined;
  if (cores > 1) scaling = await measureScaling(cores, smoke ? SMOKE_SCALING_PLAN : SCALING_PLAN, workload.floodLevel, progress);
  else notes.push('worker scaling: not measured, this machine has one core');
  const demo = await measureDemo(smoke ? SMOKE_DEMO : FULL_DEMO, cores, workload, torch?.python ?? findTorchPython(), progress);

  const wasm = tfjs.find((figures) => figures.backend === 'wasm')!;
  const singleThreadShares = [coresUsed(wasm), ...(torch ? [coresUsed(torch.oneThread)] : [])];
  if (singleThreadShares.some((share) => share < MIN_CORE_SHARE)) {
    notes.push(`the machine was busy (a single thread got < ${MIN_CORE_SHARE} of a core): wall-clock figures include waiting for a core`);
  }
  return {
    startedAt,
    workload,
    cores,
    loadAverage: { start: loadAtStart, end: loadavg()[0] },
    tfjs,
    wasm,
    torch,
    scaling,
    demo,
    smoke,
    notes,
    seconds: (performance.now() - began) / 1000,
  };
}

function measureReference(
  workload: Workload,
  cores: number,
  plan: Plan,
  progress: (line: string) => void,
  notes: string[],
): TorchReference | undefined {
  const python = findTorchPython();
  if (!python) {
    console.error(TORCH_MISSING_HINT);
    notes.push(TORCH_MISSING_HINT);
    return undefined;
  }
  try {
    progress('PyTorch, 1 thread');
    const oneThread = measureTorch(python, 1, workload, plan);
    if (oneThread.blas === 'reference') notes.push(REFERENCE_BLAS_HINT);
    if (cores === 1) return { python, oneThread };
    progress(`PyTorch, ${cores} threads`);
    return { python, oneThread, allThreads: measureTorch(python, cores, workload, plan) };
  } catch (error) {
    notes.push(`PyTorch: ${(error as Error).message}`);
    return undefined;
  }
}

/** Everything `--json` prints. */
function summarizeResults(m: Measurements) {
  const withRates = <F extends Figures>(figures: F) => ({ ...figures, rates: ratesOf(figures, m.workload) });
  const slowdown = m.torch && slowdownOf(ratesOf(m.wasm, m.workload), ratesOf(m.torch.oneThread, m.workload));
  return {
    date: m.startedAt.toISOString(),
    machine: { cpu: cpus()[0]?.model.trim() ?? 'unknown CPU', cores: m.cores, node: process.version, loadAverage: m.loadAverage },
    workload: m.workload,
    flops: { forwardPerSample: forwardFlopsPerSample(m.workload), trainPerSample: trainFlopsPerSample(m.workload) },
    plans: { full: FULL_PLAN, cpu: CPU_PLAN, smoke: SMOKE_PLAN },
    smoke: m.smoke,
    backends: m.tfjs.map(withRates),
    torch: m.torch
      ? { python: m.torch.python, oneThread: withRates(m.torch.oneThread), allThreads: m.torch.allThreads && withRates(m.torch.allThreads) }
      : { missing: TORCH_MISSING_HINT },
    wasmSlowerThanTorchOneThread: slowdown,
    wasmTransposeFirstSpeedUp: m.wasm.trainStepWithoutTransposeFirst!.median / m.wasm.trainStep.median,
    wasmBatchSizes: batchSizeRows(m),
    scaling: m.scaling,
    ceilings: m.tfjs.map((figures) => ceilingOf(figures, m.workload)),
    demo: { ...m.demo, ratiosToTorch: demoRatios(m.demo) },
    targets: {
      demo: demoTargets(m.demo),
      evaluationShareOfCeiling: ceilingTarget(m),
      demoStepWithin3xOfTorch:
        slowdown && epochTarget(slowdown.epochTrainOnly, slowdown.epochTrainOnlyCpu, MAX_DEMO_STEP_SLOWDOWN_VS_TORCH),
      epochWithEvalWithin2xOfTorch:
        slowdown && epochTarget(slowdown.epochWithEval!, slowdown.epochWithEvalCpu!, MAX_EPOCH_SLOWDOWN_VS_TORCH),
      trainingShareOfProducts: batchSizeRows(m).map(({ batchSize, shareOfProducts }) => ({
        batchSize,
        shareOfProducts,
        verdict: (shareOfProducts >= MIN_SHARE_OF_PRODUCTS ? 'met' : 'NOT met') as Verdict,
      })),
      workerSpeedUp: m.scaling && workerTarget(m.scaling),
    },
    notes: m.notes,
    totalSeconds: m.seconds,
  };
}

function report(m: Measurements, results: ReturnType<typeof summarizeResults>): string[] {
  const { workload, cores, torch, scaling, wasm } = m;
  const lines = [
    `floodsweep benchmark, ${results.date}`,
    `${results.machine.cpu}, ${cores} cores, Node ${process.version}, load average ${m.loadAverage.start.toFixed(2)} -> ${m.loadAverage.end.toFixed(2)}`,
    `demo MLP ${workload.inputDim}-${workload.width}x${workload.depth}-${workload.numClasses} with batch norm, SGD momentum, flooding; ` +
      `${(forwardFlopsPerSample(workload) / 1e6).toFixed(2)} MFLOP forward per sample, training counted as 3x`,
  ];
  if (torch) lines.push(`PyTorch ${torch.oneThread.torch} (${torch.python}, BLAS: ${torch.oneThread.blas})`);

  if (m.smoke) lines.push('SMOKE RUN (--smoke): every measurement once on tiny sizes; no figure below means anything');
  const columns: Array<{ label: string; figures: Figures }> = m.tfjs.map((figures) => ({ label: figures.description, figures }));
  if (torch) columns.push({ label: 'torch 1 thread', figures: torch.oneThread });
  if (torch?.allThreads) columns.push({ label: `torch ${torch.allThreads.threads} threads`, figures: torch.allThreads });
  lines.push('', ...figuresTable(columns, results.wasmSlowerThanTorchOneThread, workload), '');
  lines.push(
    'wasm training by batch size (one training set of exactly one batch; kernel calls and read-backs over an epoch of ' +
      `${(m.smoke ? SMOKE_PLAN : FULL_PLAN).countedSteps} steps; "products alone" = the step's matMuls on fresh operands, the ceiling):`,
    '',
    ...batchSizeTable(results.wasmBatchSizes, Boolean(torch)),
    '',
  );

  lines.push(
    `wasm transpose-first matmul: ${(1 / wasm.trainStep.median).toFixed(1)} train steps/s on, ` +
      `${(1 / wasm.trainStepWithoutTransposeFirst!.median).toFixed(1)} off: ${results.wasmTransposeFirstSpeedUp.toFixed(2)}x`,
  );
  if (scaling) {
    const pools = scaling.pools.map(
      ({ workers, batch }) => `${workers} worker(s) ${batch.median.toFixed(2)} s using ${batch.coreShare.toFixed(2)} cores`,
    );
    lines.push(
      `worker processes (wasm), ${scaling.plan.tasks} tasks x ${scaling.plan.epochs} epochs (nTest ${scaling.plan.nTest}): ` +
        `${pools.join(', ')}: speed-up ${scaling.speedUp.toFixed(2)}x`,
    );
  }

  for (const ceiling of results.ceilings) {
    lines.push(
      `${ceiling.backend}: evaluation ${ceiling.evalGflops.toPrecision(3)} GFLOP/s = ${(ceiling.share * 100).toFixed(0)}% of its matmul ceiling ` +
        `(${ceiling.ceilingGflops.toPrecision(3)} GFLOP/s on one ${ceiling.size} x ${ceiling.size} x ${ceiling.size} product)`,
    );
  }
  lines.push('', ...demoTable(m.demo));

  lines.push('', 'targets:');
  for (const { label, ratio, max, verdict } of results.targets.demo) {
    lines.push(
      `  whole demo on ${label} <= ${max}x PyTorch's wall time: ${ratio === undefined ? 'not measured' : `${ratio.toFixed(2)}x: ${verdict}`}`,
    );
  }
  const ceilingTargetResult = results.targets.evaluationShareOfCeiling;
  lines.push(
    `  demo evaluation on tfjs-node >= ${MIN_EVAL_SHARE_OF_CEILING * 100}% of the matmul ceiling: ${
      ceilingTargetResult
        ? `${(ceilingTargetResult.share * 100).toFixed(0)}%: ${ceilingTargetResult.verdict}`
        : 'not measured (no tfjs-node)'
    }`,
  );
  const { demoStepWithin3xOfTorch, epochWithEvalWithin2xOfTorch, trainingShareOfProducts, workerSpeedUp } = results.targets;
  for (const { batchSize, shareOfProducts, verdict } of trainingShareOfProducts) {
    lines.push(
      `  wasm training >= ${MIN_SHARE_OF_PRODUCTS * 100}% of its products alone, batch ${batchSize}: ${(shareOfProducts * 100).toFixed(0)}%: ${verdict}`,
    );
  }
  const judged = ({ cpuRatio, wallRatio, verdict }: ReturnType<typeof epochTarget>) =>
    `${wallRatio.toFixed(2)}x wall clock, ${cpuRatio.toFixed(2)}x CPU time: ${verdict}`;
  if (demoStepWithin3xOfTorch && epochWithEvalWithin2xOfTorch) {
    lines.push(
      `  wasm demo training step (train-only epoch) within ${MAX_DEMO_STEP_SLOWDOWN_VS_TORCH}x of PyTorch on one core: ${judged(demoStepWithin3xOfTorch)}`,
      `  wasm demo epoch + eval within ${MAX_EPOCH_SLOWDOWN_VS_TORCH}x of PyTorch on one core: ${judged(epochWithEvalWithin2xOfTorch)}`,
    );
  } else {
    lines.push('  wasm against PyTorch on one core: not measured (no PyTorch)');
  }
  if (scaling && workerSpeedUp) {
    const [one, many] = scaling.pools;
    lines.push(
      `  >= ${MIN_WORKER_SPEED_UP}x from ${cores} workers: ${workerSpeedUp.speedUp.toFixed(2)}x ${workerSpeedUp.verdict} ` +
        `(the pool got ${workerSpeedUp.coresObtained.toFixed(2)} of ${cores} cores; CPU seconds per batch: ` +
        `${one.batch.cpuMedian.toFixed(1)} on 1 worker, ${many.batch.cpuMedian.toFixed(1)} on ${cores})`,
    );
  } else {
    lines.push(`  >= ${MIN_WORKER_SPEED_UP}x from ${cores} workers: not measured`);
  }
  lines.push('', ...m.notes.map((note) => `note: ${note}`));
  lines.push('', `(${m.seconds.toFixed(0)} s; medians of repeats after warm-up; --json for every figure)`);
  return lines;
}

function ceilingOf(figures: TfjsFigures, workload: Workload) {
  const n = figures.ceilingSize;
  const ceilingGflops = (2 * n ** 3) / figures.matMulCeiling.median / 1e9;
  const { evalGflops } = ratesOf(figures, workload);
  return { backend: figures.description, size: n, ceilingGflops, evalGflops, share: evalGflops / ceilingGflops };
}

function ceilingTarget(m: Measurements): { share: number; verdict: Verdict } | undefined {
  const native = m.tfjs.find((figures) => figures.backend === 'tfjs-node');
  if (!native) return undefined;
  const { share } = ceilingOf(native, m.workload);
  return { share, verdict: share >= MIN_EVAL_SHARE_OF_CEILING ? 'met' : 'NOT met' };
}

/** Each run's wall time over PyTorch's (below 1: faster than PyTorch). */
function demoRatios(demo: DemoFigures): Partial<Record<'tfjs-node' | 'wasm', number>> {
  const torch = demo.runs.torch.seconds;
  const ratio = (seconds?: number) => (seconds === undefined || torch === undefined ? undefined : seconds / torch);
  return { 'tfjs-node': ratio(demo.runs['tfjs-node'].seconds), wasm: ratio(demo.runs.wasm.seconds) };
}

function demoTargets(demo: DemoFigures): Array<{ label: string; ratio?: number; max: number; verdict?: Verdict }> {
  const ratios = demoRatios(demo);
  return (
    [
      ['tfjs-node', MAX_DEMO_RATIO_TFJS_NODE],
      ['wasm', MAX_DEMO_RATIO_WASM],
    ] as const
  ).map(([backend, max]) => {
    const ratio = ratios[backend];
    return { label: demo.runs[backend].label, ratio, max, verdict: ratio === undefined ? undefined : ratio <= max ? 'met' : 'NOT met' };
  });
}

function demoTable(demo: DemoFigures): string[] {
  const ratios = demoRatios(demo);
  const what =
    `${demo.tasks} tasks x ${demo.epochs} epochs${demo.plan.quick ? ', the --quick test set' : ''}, ` +
    `${demo.processes} worker processes / ${demo.processes} PyTorch processes x 1 thread`;
  const rows = (['tfjs-node', 'wasm', 'torch'] as const).map((key) => {
    const run = demo.runs[key];
    if (run.seconds === undefined) return `  ${run.label.padEnd(36)} not run: ${run.unavailable}`;
    const ratio = key === 'torch' ? '1.00x' : ratios[key] === undefined ? '' : `${ratios[key]!.toFixed(2)}x`;
    return [
      `  ${run.label.padEnd(36)} ${run.seconds.toFixed(1).padStart(7)} s  ${ratio}`,
      ...(run.printed ?? []).map((line) => `      ${line}`),
    ];
  });
  return [`whole demo, wall time side by side (${what}):`, ...rows.flat()];
}

function ratesOf(figures: Figures, workload: Workload): Rates {
  const trainStep = figures.trainStep.median;
  const evaluation = figures.evaluation.median;
  return {
    trainStepsPerSecond: 1 / trainStep,
    trainGflops: (workload.batchSize * trainFlopsPerSample(workload)) / trainStep / 1e9,
    evalSamplesPerSecond: figures.evalSamples / evaluation,
    evalGflops: (figures.evalSamples * forwardFlopsPerSample(workload)) / evaluation / 1e9,
    epochTrainOnlySeconds: figures.epochTrainOnly.median,
    epochWithEvalSeconds: figures.epochWithEval?.median,
    epochTrainOnlyCpuSeconds: figures.epochTrainOnly.cpuMedian,
    epochWithEvalCpuSeconds: figures.epochWithEval?.cpuMedian,
  };
}

/** How many times slower wasm is than the reference, per figure (above 1: wasm is slower). */
function slowdownOf(wasm: Rates, reference: Rates) {
  const timeRatio = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a / b);
  return {
    trainStep: reference.trainStepsPerSecond / wasm.trainStepsPerSecond,
    evaluation: reference.evalSamplesPerSecond / wasm.evalSamplesPerSecond,
    epochTrainOnly: wasm.epochTrainOnlySeconds / reference.epochTrainOnlySeconds,
    epochWithEval: timeRatio(wasm.epochWithEvalSeconds, reference.epochWithEvalSeconds),
    epochTrainOnlyCpu: wasm.epochTrainOnlyCpuSeconds / reference.epochTrainOnlyCpuSeconds,
    epochWithEvalCpu: timeRatio(wasm.epochWithEvalCpuSeconds, reference.epochWithEvalCpuSeconds),
  };
}

function figuresTable(columns: Array<{ label: string; figures: Figures }>, slowdown: Slowdown | undefined, workload: Workload): string[] {
  const optional = (value: number | undefined, digits: number) => (value === undefined ? '-' : value.toFixed(digits));
  // Three significant digits: the cpu backend's rates are a hundred times smaller than wasm's.
  const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toPrecision(3));
  const rows: Array<[string, (rates: Rates, figures: Figures) => string, number | undefined]> = [
    [`train steps/s (batch ${workload.batchSize})`, (r) => rate(r.trainStepsPerSecond), slowdown?.trainStep],
    ['  train GFLOP/s', (r) => rate(r.trainGflops), undefined],
    ['eval samples/s (inference)', (r) => rate(r.evalSamplesPerSecond), slowdown?.evaluation],
    ['  eval GFLOP/s', (r) => rate(r.evalGflops), undefined],
    ['  samples per measurement', (_, f) => f.evalSamples.toLocaleString('en-US'), undefined],
    ['demo epoch, train only (s)', (r) => r.epochTrainOnlySeconds.toFixed(4), slowdown?.epochTrainOnly],
    [
      `demo epoch + eval of ${evalSamplesPerEpoch(workload).toLocaleString('en-US')} (s)`,
      (r) => optional(r.epochWithEvalSeconds, 3),
      slowdown?.epochWithEval,
    ],
    ['demo epoch, train only (CPU s)', (r) => r.epochTrainOnlyCpuSeconds.toFixed(4), slowdown?.epochTrainOnlyCpu],
    ['demo epoch + eval (CPU s)', (r) => optional(r.epochWithEvalCpuSeconds, 3), slowdown?.epochWithEvalCpu],
    ['cores used while timed', (_, f) => coresUsed(f).toFixed(2), undefined],
  ];
  const header = ['', ...columns.map((c) => c.label), ...(slowdown ? ['wasm slower by'] : [])];
  const body = rows.map(([label, cell, ratio]) => [
    label,
    ...columns.map((c) => cell(ratesOf(c.figures, workload), c.figures)),
    ...(slowdown ? [ratio === undefined ? '' : `${ratio.toFixed(2)}x`] : []),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i].length)));
  return [header, ...body].map((row) =>
    row
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd(),
  );
}

/** The wasm batch-size table with rates, next to PyTorch on one thread at the same batch sizes. */
function batchSizeRows(m: Measurements) {
  return m.wasm.batchSizes.map((figures: BatchSizeFigures) => {
    const flopsPerStep = figures.batchSize * trainFlopsPerSample(m.workload);
    const torchStep = m.torch?.oneThread.batchSizes.find((b) => b.batchSize === figures.batchSize)?.trainStep;
    const trainGflops = flopsPerStep / figures.trainStep.median / 1e9;
    const productsGflops = flopsPerStep / figures.products.median / 1e9;
    return {
      ...figures,
      trainStepsPerSecond: 1 / figures.trainStep.median,
      trainGflops,
      productsGflops,
      shareOfProducts: trainGflops / productsGflops,
      torchOneThread: torchStep && {
        trainStep: torchStep,
        trainStepsPerSecond: 1 / torchStep.median,
        trainGflops: flopsPerStep / torchStep.median / 1e9,
      },
    };
  });
}

function batchSizeTable(rows: ReturnType<typeof batchSizeRows>, withTorch: boolean): string[] {
  const header = [
    'batch',
    'steps/s',
    'GFLOP/s',
    'products alone GFLOP/s',
    'share',
    'kernel calls/step',
    'read-backs/step',
    'CPU s/step',
    ...(withTorch ? ['torch 1 thread steps/s', 'torch GFLOP/s', 'wasm slower by'] : []),
  ];
  const body = rows.map((r) => [
    String(r.batchSize),
    r.trainStepsPerSecond.toPrecision(3),
    r.trainGflops.toPrecision(3),
    r.productsGflops.toPrecision(3),
    `${(r.shareOfProducts * 100).toFixed(0)}%`,
    r.kernelCallsPerStep.toFixed(1),
    r.readBacksPerStep.toFixed(2),
    r.trainStep.cpuMedian.toFixed(4),
    ...(withTorch
      ? r.torchOneThread
        ? [
            r.torchOneThread.trainStepsPerSecond.toPrecision(3),
            r.torchOneThread.trainGflops.toPrecision(3),
            `${(r.torchOneThread.trainStepsPerSecond / r.trainStepsPerSecond).toFixed(2)}x`,
          ]
        : ['-', '-', '']
      : []),
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i].length)));
  return [header, ...body].map((row) => row.map((cell, i) => cell.padStart(widths[i])).join('  '));
}

/** Mean CPU seconds per wall second over a column's timings: below 1 for one thread means others shared its core. */
function coresUsed(figures: Figures): number {
  const timings = [figures.trainStep, figures.evaluation, figures.epochTrainOnly, figures.epochWithEval].filter((t) => t !== undefined);
  return timings.reduce((sum, t) => sum + t.coreShare, 0) / timings.length;
}

/**
 * On a shared machine a wall-clock time also counts waiting for a core, and CPU time also counts the
 * process's helper threads (V8's garbage collector and compilers): when the two ratios disagree
 * about the target, the run cannot tell.
 */
function epochTarget(wallRatio: number, cpuRatio: number, maxRatio: number): { wallRatio: number; cpuRatio: number; verdict: Verdict } {
  const [wallMet, cpuMet] = [wallRatio <= maxRatio, cpuRatio <= maxRatio];
  return { wallRatio, cpuRatio, verdict: wallMet !== cpuMet ? 'inconclusive' : wallMet ? 'met' : 'NOT met' };
}

/** A speed-up below target says nothing about the code when the pool could not get its cores. */
function workerTarget(scaling: Scaling): { speedUp: number; coresObtained: number; verdict: Verdict } {
  const pool = scaling.pools[1];
  const coresObtained = pool.batch.coreShare;
  let verdict: Verdict = scaling.speedUp >= MIN_WORKER_SPEED_UP ? 'met' : 'NOT met';
  if (verdict === 'NOT met' && coresObtained < MIN_CORE_SHARE * pool.workers) verdict = 'inconclusive';
  return { speedUp: scaling.speedUp, coresObtained, verdict };
}

await main();
