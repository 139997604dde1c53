/**
 * Flood levels in labels: 4 significant digits, which hides float noise like 0.30000000000000004,
 * and as many more as it takes for the given levels to print apart (0.26 and 0.26001).
 */
export function levelFormatter(levels: Iterable<number>): (level: number) => string {
  const distinct = [...new Set(levels)];
  for (let digits = 4; digits <= 16; digits++) {
    const format = (level: number) => String(Number(level.toPrecision(digits)));
    if (new Set(distinct.map(format)).size === distinct.length) return format;
  }
  // The shortest text that reads back as the same number: distinct for any two distinct levels.
  return (level) => String(level);
}

/** The one formatter of a group's levels, shared by its table and figures so that they agree. */
export function groupLevelFormatter(group: { levels: ReadonlyArray<{ floodLevel: number }> }): (level: number) => string {
  return levelFormatter(group.levels.map((level) => level.floodLevel));
}
