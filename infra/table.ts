/**
 * The metrics table's key schema, as the stack creates it. infra/ imports no src/ runtime code, so
 * this is a copy of METRICS_TABLE in src/store/aws.ts; test/infra.test.ts asserts the two are equal.
 */
export const METRICS_TABLE = {
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  /** Lists sweeps newest first: one partition of sweep records, sorted by creation time. */
  byCreatedIndex: {
    indexName: 'byCreated',
    partitionKey: { name: 'gsi1pk', type: 'S' },
    sortKey: { name: 'gsi1sk', type: 'S' },
  },
} as const;
