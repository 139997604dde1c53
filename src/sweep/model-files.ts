import type { TaskConfig } from '../flooding/config.js';
import type { BackendName } from '../flooding/names.js';
import { checkNetworkFits } from '../flooding/network-templates.js';
import { dataShape } from './resources.js';

/**
 * Models from files, checked before a sweep runs: each file is built once with tfjs (which the
 * estimates and the trainer then rely on), and refused when its input or output does not fit a
 * task's data, or when a layer cannot train on the backend the tasks will run on.
 */

type Tasks = ReadonlyArray<{ config: TaskConfig }>;

const layersModels = (tasks: Tasks) => [
  ...new Map(tasks.flatMap(({ config: { model } }) => (model.kind === 'layers' ? [[model.path, model] as const] : []))).values(),
];

/** Builds every model file of the tasks and checks it fits each task's data; loads tfjs only when there is one. */
export async function loadModelFiles(tasks: Tasks): Promise<void> {
  if (layersModels(tasks).length === 0) return;
  const { loadNetworkTemplate } = await import('../flooding/layers-network.js');
  for (const { config } of tasks) {
    if (config.model.kind !== 'layers') continue;
    const template = await loadNetworkTemplate(config.model);
    const shape = dataShape(config.dataset);
    // A CSV file's shape is checked when the task builds its model.
    if (shape) checkNetworkFits(template, shape.features, shape.classes);
  }
}

/** Refuses model files with a layer that cannot train on `backend`, naming the layer and the backends that can. */
export async function checkModelFilesTrainOn(tasks: Tasks, backend: BackendName): Promise<void> {
  const models = layersModels(tasks);
  if (models.length === 0) return;
  const { checkNetworkTrains, loadNetworkTemplate } = await import('../flooding/layers-network.js');
  for (const model of models) await checkNetworkTrains(await loadNetworkTemplate(model), backend);
}
