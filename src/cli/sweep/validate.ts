import type { Command } from 'commander';
import { DEFAULT_MAX_TASKS } from '../../env.js';
import type { PlannedTask } from '../../sweep/spec.js';
import { invocation } from '../invocation.js';
import { addResourceOptions, parsePositiveInteger, type ResourceFlags } from '../options.js';
import { shellQuote } from '../stores.js';

/** `sweep validate <spec>`: the task count, sampled points, data files, memory, work and a quick cost estimate. */
export function registerValidate(sweep: Command): void {
  const validate = sweep
    .command('validate <spec>')
    .description(
      'check a sweep spec; print how many tasks it expands to, the points drawn for its sampled axes, its data files, the memory a task needs and the work in epochs x samples',
    )
    .option('--max-tasks <n>', `refuse sweeps above n tasks (default ${DEFAULT_MAX_TASKS})`, parsePositiveInteger)
    .addHelpText('after', '\nExample:\n  $ floodsweep sweep validate examples/tiny.json');
  addResourceOptions(validate).action(async (specPath: string, options: ResourceFlags & { maxTasks?: number }) => {
    const { loadSpecFile } = await import('../../input-files.js');
    const [{ planTasks }, { sampledPoints }] = await Promise.all([import('../../planned-tasks.js'), import('../../sweep/expansion.js')]);
    const { checkSweepResources } = await import('../resources.js');
    const { formatSampledPoints } = await import('../sampled-points.js');
    const spec = loadSpecFile(specPath);
    const tasks = planTasks(spec, { maxTasks: options.maxTasks });
    const { loadModelFiles } = await import('../../sweep/model-files.js');
    await loadModelFiles(tasks);
    const dataLines = await describeDataFiles(tasks);
    const resources = await checkSweepResources(tasks, options);
    const groups = new Set(tasks.map((t) => t.group)).size;
    // A sampled floodLevels gives each setting the levels drawn for it (plus b = 0): counted per setting.
    const pairs = new Set(tasks.map((t) => `${t.group}/${t.config.floodLevel}`)).size;
    const settings = `${groups} setting${groups === 1 ? '' : 's'}`;
    const levels = pairs % groups === 0 ? `${settings} x ${pairs / groups} flood levels` : `${pairs} flood levels over ${settings}`;
    process.stdout.write(`${JSON.stringify(specPath)}: valid; ${tasks.length} tasks = ${levels} x ${spec.seeds.length} seeds\n`);
    process.stdout.write(formatSampledPoints(sampledPoints(spec, { maxTasks: options.maxTasks }), spec.search?.seed ?? 0));
    for (const line of [...dataLines, ...resources]) process.stdout.write(`${line}\n`);
    const { flopEstimate } = await import('../../cost/model.js');
    const { estimateLine } = await import('../../cost/format.js');
    const quick = flopEstimate(spec, tasks);
    process.stdout.write(
      quick
        ? `${estimateLine(quick)}; \`${invocation()} sweep cost ${shellQuote(specPath)}\` calibrates\n`
        : `cost: csv data sets need a calibration: run \`${invocation()} sweep cost ${shellQuote(specPath)}\`\n`,
    );
  });
}

/** `sweep validate`: one line per file dataset and model file of the sweep, from the files as training reads them (planTasks and loadModelFiles have checked them). */
async function describeDataFiles(tasks: readonly PlannedTask[]): Promise<string[]> {
  const { inspectCsv } = await import('../../flooding/datasets.js');
  const { describeArrays, isArrayDataset } = await import('../../flooding/array-datasets.js');
  const { canonicalJson } = await import('../../flooding/json.js');
  const datasets = new Map(tasks.map(({ config: { dataset } }) => [canonicalJson(dataset), dataset]));
  const { networkTemplate } = await import('../../flooding/network-templates.js');
  const models = new Map(tasks.flatMap(({ config: { model } }) => (model.kind === 'layers' ? [[model.path, model] as const] : [])));
  const modelLines = [...models.values()].map((model) => {
    const { file, className, inputShape, outputWidth, parameters, sha256 } = networkTemplate(model);
    return `  model ${file}: ${className}, input ${inputShape.join(' x ')}, ${outputWidth} outputs, ${parameters.toLocaleString('en-US')} parameters, sha256 ${sha256.slice(0, 12)}`;
  });
  return [...datasets.values()]
    .flatMap((dataset) => {
      if (isArrayDataset(dataset)) return [`  data ${describeArrays(dataset)}`];
      if (dataset.name !== 'csv') return [];
      const { file, labelColumn, rows, features, classes, sha256 } = inspectCsv(dataset);
      return [
        `  data ${file}: label column ${labelColumn}, ${classes} classes, ${rows} rows, ${features} features, sha256 ${sha256.slice(0, 12)}`,
      ];
    })
    .concat(modelLines);
}
