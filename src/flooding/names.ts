/**
 * The names users choose from (backends, datasets), apart from the modules that implement them, so
 * that flags and environment parsing can list them without loading tfjs or zod.
 */

/** The backends floodsweep can train on, fastest first. */
export const BACKENDS = ['tfjs-node', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number];
export type BackendRequest = BackendName | 'auto';

export function isBackendRequest(value: string): value is BackendRequest {
  return value === 'auto' || (BACKENDS as readonly string[]).includes(value);
}

/** The datasets of a task config (`dataset.name`); flooding/config.ts checks it has a schema for each. */
export const DATASET_NAMES = ['sinusoid2d', 'sinusoid', 'spiral', 'gaussian', 'csv', 'idx', 'npy', 'npz'] as const;
