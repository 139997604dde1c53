import { estimateSweepCost } from '../src/cost.ts';
import { loadSpecFile } from '../src/input-files.ts';
import { flopTiming } from '../src/sweep/cost.ts';
import { expandSpec } from '../src/sweep/spec.ts';
for (const f of process.argv.slice(2)) {
  const spec = loadSpecFile(f);
  const e = await estimateSweepCost(spec, { runtime: 'zip' });
  const cfg = expandSpec(spec)[0].config;
  const T = e.taskCount; const E = cfg.training.epochs;
  const gbs = e.breakdown.lines[0].quantity;
  // back out seconds per epoch: (gbs*1024/1769 - plan/agg share) rough
  console.log(f, e.timing, 'GB-s', gbs.toFixed(2), 'per task-epoch s≈', (gbs/1.7275/T/E).toFixed(4), 'flop', JSON.stringify(flopTiming(cfg)), 'steps', Math.ceil(cfg.dataset.nTrain/cfg.training.batchSize));
}
