/**
 * The metrics table: one table, on-demand, all string keys. The `byCreated` index lists sweeps
 * newest first. The AWS store (store/aws.ts), the CDK stack and the tests create the table from
 * this description; it imports nothing, so infra/ can read it.
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
