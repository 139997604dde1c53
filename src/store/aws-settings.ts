import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * What every AWS SDK client of floodsweep gets: without timeouts a stopped (not killed) endpoint
 * hangs a call forever. Connection 3 s, 10 s without a byte of response, 3 attempts with adaptive
 * retries (client-side rate limiting under throttling): a dead endpoint fails in well under 60 s.
 */
export const AWS_CONNECTION_TIMEOUT_MS = 3_000;
export const AWS_REQUEST_TIMEOUT_MS = 10_000;
export const AWS_MAX_ATTEMPTS = 3;

export function awsClientSettings() {
  return {
    requestHandler: new NodeHttpHandler({
      connectionTimeout: AWS_CONNECTION_TIMEOUT_MS,
      requestTimeout: AWS_REQUEST_TIMEOUT_MS,
      // Without it the handler only logs a warning when the request timeout passes, and waits on.
      throwOnRequestTimeout: true,
    }),
    retryMode: 'adaptive',
    maxAttempts: AWS_MAX_ATTEMPTS,
  } as const;
}
