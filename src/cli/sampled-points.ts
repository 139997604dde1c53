import { terminalSafe } from './terminal.js';

/** A cell longer than this (a whole section drawn by choice) is cut, so that a point stays on one line. */
const MAX_CELL = 40;

function cell(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value);
  return terminalSafe(text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text);
}

/**
 * The points drawn for the sampled axes, one line each under a header of the axes' field paths,
 * as `sweep validate` prints them; '' without sampled axes.
 */
export function formatSampledPoints(sampled: { axes: string[]; points: unknown[][] }, seed: number): string {
  if (sampled.axes.length === 0) return '';
  const header = ['point', ...sampled.axes.map((key) => (key === 'floodLevels' ? 'floodLevel' : terminalSafe(key)))];
  const rows = sampled.points.map((point, index) => [String(index + 1), ...point.map(cell)]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]) =>
    cells
      .map((text, column) => text.padEnd(widths[column]))
      .join('  ')
      .trimEnd();
  return `${sampled.points.length} sampled points (search.seed ${seed}):\n${[header, ...rows].map(line).join('\n')}\n`;
}
