/**
 * Whether @tensorflow/tfjs-node is installed with its native addon. It is an optional dependency:
 * its install downloads libtensorflow, and where that fails npm leaves it out without a word. Tests
 * whose outcome depends on the backends installed branch on this, so they hold in both worlds.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

function addonInstalled(): boolean {
  try {
    const main = createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return existsSync(join(dirname(main), '..', 'lib', 'napi-v8', 'tfjs_binding.node'));
  } catch {
    return false;
  }
}

export const tfjsNodeInstalled = addonInstalled();

/** The backend `auto` picks here, as results name it (tfjs-node with its libtensorflow version). */
export const autoBackend = tfjsNodeInstalled ? /^tfjs-node \(libtensorflow \d+\.\d+\.\d+\)$/ : /^wasm$/;
