/**
 * IAM for the AWS adapters under test: dynalite and s3rver enforce none, so every call the SDK
 * clients send is translated into the IAM action AWS authorizes it as (HeadObject is s3:GetObject,
 * ListObjectsV2 is s3:ListBucket, ...), with its resource ARN and condition keys, and evaluated
 * with @cloud-copilot/iam-simulate (AWS's action and resource catalogue) against the policy the
 * synthesized template gives the caller. A denied call fails as AWS fails it (AccessDenied), and
 * a read of a missing key without s3:ListBucket answers 403, not 404, as S3 does.
 * Not a test file itself: test/iam.test.ts uses it.
 */

import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON
type Json = any;

export interface PolicyDocument {
  Version: string;
  Statement: Json[];
}

/** One caller: a function's role, or the CLI user with the shipped managed policy. */
export interface Principal {
  /** What the test calls it in messages: the workflow step, or "CLI user". */
  name: string;
  arn: string;
  policies: Array<{ name: string; policy: PolicyDocument }>;
}

/** The names the emulators gave the template's bucket and table. */
export interface Deployment {
  stackName: string;
  bucketLogicalId: string;
  bucket: string;
  tableLogicalId: string;
  table: string;
}

/**
 * Resolves CloudFormation intrinsics against the emulated deployment: the bucket and table have
 * the emulators' names, pseudo parameters the test account and region; other resources get an ARN
 * built from their logical id (never the bucket's or the table's, so no grant matches by accident).
 */
export function resolveIntrinsics(value: Json, template: Json, deployment: Deployment): Json {
  const resolve = (v: Json): Json => resolveIntrinsics(v, template, deployment);
  if (Array.isArray(value)) return value.map(resolve);
  if (value === null || typeof value !== 'object') return value;
  if ('Ref' in value) {
    const ref = value.Ref as string;
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return REGION;
    if (ref === 'AWS::AccountId') return ACCOUNT;
    if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
    if (ref === 'AWS::StackName') return deployment.stackName;
    if (ref === deployment.bucketLogicalId) return deployment.bucket;
    if (ref === deployment.tableLogicalId) return deployment.table;
    const type = template.Resources?.[ref]?.Type as string | undefined;
    if (type === 'AWS::StepFunctions::StateMachine') return `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${ref}`;
    if (type === 'AWS::SNS::Topic') return `arn:aws:sns:${REGION}:${ACCOUNT}:${ref}`;
    return ref;
  }
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = value['Fn::GetAtt'] as [string, string];
    if (id === deployment.bucketLogicalId && attribute === 'Arn') return `arn:aws:s3:::${deployment.bucket}`;
    if (id === deployment.tableLogicalId && attribute === 'Arn') return `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${deployment.table}`;
    const type = template.Resources?.[id]?.Type as string | undefined;
    if (attribute === 'Name') return id;
    if (type === 'AWS::Lambda::Function') return `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${id}`;
    if (type === 'AWS::Logs::LogGroup') return `arn:aws:logs:${REGION}:${ACCOUNT}:log-group:${id}:*`;
    if (type === 'AWS::KMS::Key') return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${id}`;
    return `${id}.${attribute}`;
  }
  if ('Fn::Join' in value) {
    const [separator, parts] = value['Fn::Join'] as [string, Json[]];
    return parts.map((part) => String(resolve(part))).join(separator);
  }
  if ('Fn::Select' in value) {
    const [index, list] = value['Fn::Select'] as [number, Json];
    return (resolve(list) as Json[])[index];
  }
  if ('Fn::Split' in value) {
    const [separator, text] = value['Fn::Split'] as [string, Json];
    return String(resolve(text)).split(separator);
  }
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, resolve(v)]));
}

/** The inline and customer-managed policies attached to a role of the template, resolved. */
export function policiesOfRole(template: Json, roleLogicalId: string, deployment: Deployment): Principal['policies'] {
  const resources = Object.entries(template.Resources as Record<string, Json>);
  const inline = resources.filter(
    ([, r]) => r.Type === 'AWS::IAM::Policy' && (r.Properties.Roles as Json[]).some((role) => role.Ref === roleLogicalId),
  );
  const managedRefs = ((template.Resources[roleLogicalId]?.Properties?.ManagedPolicyArns ?? []) as Json[]).map((arn) => arn.Ref as string);
  const managed = resources.filter(([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && managedRefs.includes(id));
  return [...inline, ...managed].map(([id, r]) => ({
    name: id,
    policy: resolveIntrinsics(r.Properties.PolicyDocument, template, deployment) as PolicyDocument,
  }));
}

/** The role a function of the template runs as, with its policies. */
export function functionPrincipal(template: Json, functionLogicalId: string, step: string, deployment: Deployment): Principal {
  const roleId = template.Resources[functionLogicalId].Properties.Role['Fn::GetAtt'][0] as string;
  return { name: step, arn: `arn:aws:iam::${ACCOUNT}:role/${roleId}`, policies: policiesOfRole(template, roleId, deployment) };
}

/** A user with one customer-managed policy of the template (the CLI user policy the stack ships). */
export function managedPolicyPrincipal(template: Json, policyLogicalId: string, name: string, deployment: Deployment): Principal {
  const policy = resolveIntrinsics(template.Resources[policyLogicalId].Properties.PolicyDocument, template, deployment) as PolicyDocument;
  return { name, arn: `arn:aws:iam::${ACCOUNT}:user/floodsweep-cli`, policies: [{ name: policyLogicalId, policy }] };
}

/** What AWS authorizes one API call as. */
export interface AuthorizedAction {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

/** A call as the SDK client sends it: the command's name and its input (DynamoDB's already marshalled). */
export function authorizationsOf(service: 's3' | 'dynamodb', command: string, input: Json): AuthorizedAction[] {
  const operation = command.replace(/Command$/, '');
  // Every real client speaks TLS; the emulators' plain HTTP is the test's, not the product's.
  const context = { 'aws:SecureTransport': 'true' };
  if (service === 's3') {
    const object = `arn:aws:s3:::${input.Bucket}/${input.Key}`;
    switch (operation) {
      case 'GetObject':
      case 'HeadObject':
        return [{ action: 's3:GetObject', resource: object, context }];
      case 'PutObject':
        // A PutObject with tags needs s3:PutObjectTagging as well.
        return [
          { action: 's3:PutObject', resource: object, context },
          ...(input.Tagging ? [{ action: 's3:PutObjectTagging', resource: object, context }] : []),
        ];
      case 'DeleteObject':
        return [{ action: 's3:DeleteObject', resource: object, context }];
      case 'ListObjectsV2':
        return [
          {
            action: 's3:ListBucket',
            resource: `arn:aws:s3:::${input.Bucket}`,
            context: { ...context, ...(input.Prefix !== undefined ? { 's3:prefix': String(input.Prefix) } : {}) },
          },
        ];
      default:
        throw new Error(`test/iam.ts: no IAM mapping for S3 ${operation}; add it`);
    }
  }
  const table = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
  const action = `dynamodb:${operation}`;
  if (operation === 'BatchWriteItem' || operation === 'BatchGetItem') {
    return Object.keys(input.RequestItems as Record<string, unknown>).map((name) => ({ action, resource: table(name), context }));
  }
  if (input.TableName === undefined) throw new Error(`test/iam.ts: no IAM mapping for DynamoDB ${operation}; add it`);
  const resource = input.IndexName ? `${table(input.TableName)}/index/${input.IndexName}` : table(input.TableName);
  return [{ action, resource, context }];
}

export interface Denial {
  principal: string;
  action: string;
  resource: string;
}

/** Whether the principal may do it, by iam-simulate (a simulation error, such as an unknown action, is a test bug). */
export async function isAllowed(principal: Principal, request: AuthorizedAction, resourcePolicy?: PolicyDocument): Promise<boolean> {
  const simulation: Simulation = {
    identityPolicies: principal.policies,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(resourcePolicy ? { resourcePolicy } : {}),
    request: {
      action: request.action,
      principal: principal.arn,
      resource: { accountId: ACCOUNT, resource: request.resource },
      contextVariables: request.context,
    },
  } as Simulation;
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error') {
    throw new Error(`iam-simulate refused ${request.action} on ${request.resource}: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult === 'Allowed';
}

class AccessDeniedError extends Error {
  readonly $metadata = { httpStatusCode: 403 };
  readonly $fault = 'client';

  constructor(
    override readonly name: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Checks every call of the clients against `current()`'s policies (none: the call goes through
 * unchecked, as the test's own set-up does). Denials are thrown as AWS throws them and kept in
 * `denials`, so a caller that swallows the error still fails the test.
 */
export function enforceIam(
  clients: { dynamodb: DynamoDBClient; s3: S3Client },
  options: { current: () => Principal | undefined; bucketPolicy?: PolicyDocument },
): { denials: Denial[]; calls: Array<Denial & { allowed: boolean }> } {
  const denials: Denial[] = [];
  const calls: Array<Denial & { allowed: boolean }> = [];
  const check = async (principal: Principal, request: AuthorizedAction, resourcePolicy?: PolicyDocument): Promise<boolean> => {
    const allowed = await isAllowed(principal, request, resourcePolicy);
    const entry = { principal: principal.name, action: request.action, resource: request.resource };
    calls.push({ ...entry, allowed });
    if (!allowed) denials.push(entry);
    return allowed;
  };
  const middleware = (service: 's3' | 'dynamodb') => (next: Json, context: Json) => async (args: Json) => {
    const principal = options.current();
    if (!principal) return next(args);
    const command = context.commandName as string;
    const resourcePolicy = service === 's3' ? options.bucketPolicy : undefined;
    for (const request of authorizationsOf(service, command, args.input)) {
      if (!(await check(principal, request, resourcePolicy))) {
        throw new AccessDeniedError(
          service === 's3' ? 'AccessDenied' : 'AccessDeniedException',
          `${principal.name} is not authorized to perform ${request.action} on resource ${request.resource} (IAM policy of the template, test/iam.ts)`,
        );
      }
    }
    try {
      return await next(args);
    } catch (error) {
      // S3 answers a read of a missing key with 404 only to a caller that may list the bucket.
      const missing = error instanceof Error && (error.name === 'NoSuchKey' || error.name === 'NotFound');
      if (service === 's3' && missing && (command === 'GetObjectCommand' || command === 'HeadObjectCommand')) {
        const list = {
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${args.input.Bucket}`,
          context: { 'aws:SecureTransport': 'true' },
        };
        if (!(await isAllowed(principal, list, resourcePolicy))) {
          denials.push({ principal: principal.name, action: 's3:ListBucket (missing key answered 403)', resource: list.resource });
          // A HEAD response has no body: the SDK names its 403 by the status.
          throw new AccessDeniedError(command === 'HeadObjectCommand' ? 'Forbidden' : 'AccessDenied', 'Access Denied');
        }
      }
      throw error;
    }
  };
  clients.s3.middlewareStack.add(middleware('s3'), { step: 'initialize', name: 'iamCheck', override: true });
  clients.dynamodb.middlewareStack.add(middleware('dynamodb'), { step: 'initialize', name: 'iamCheck', override: true });
  return { denials, calls };
}

function readBody(message: IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    message.on('data', (chunk: Buffer) => chunks.push(chunk));
    message.on('end', () => done(Buffer.concat(chunks)));
    message.on('error', fail);
  });
}

/** The API call an HTTP request to DynamoDB (JSON protocol) or path-style S3 (REST) is. */
function operationOf(service: 's3' | 'dynamodb', method: string, url: URL, headers: IncomingMessage['headers'], body: Buffer) {
  if (service === 'dynamodb') {
    const operation = String(headers['x-amz-target']).split('.')[1];
    return { command: `${operation}Command`, input: JSON.parse(body.toString('utf8') || '{}') };
  }
  const [, bucket, ...path] = url.pathname.split('/').map(decodeURIComponent);
  const key = path.join('/');
  // Bucket-level requests: `/bucket` or `/bucket/`.
  if (key === '') {
    if (method === 'GET' && url.searchParams.get('list-type') === '2') {
      return { command: 'ListObjectsV2Command', input: { Bucket: bucket, Prefix: url.searchParams.get('prefix') ?? undefined } };
    }
    throw new Error(`test/iam.ts: no IAM mapping for S3 ${method} ${url.pathname}${url.search}; add it`);
  }
  const input = { Bucket: bucket, Key: key, Tagging: headers['x-amz-tagging'] };
  const command = { GET: 'GetObjectCommand', HEAD: 'HeadObjectCommand', PUT: 'PutObjectCommand', DELETE: 'DeleteObjectCommand' }[method];
  if (!command) throw new Error(`test/iam.ts: no IAM mapping for S3 ${method} ${url.pathname}; add it`);
  return { command, input };
}

/**
 * An endpoint in front of an emulator that checks every request against one principal's
 * policies, for callers whose clients the test cannot reach (the CLI's own, a worker's): the
 * request is authorized as test/iam.ts maps it, then forwarded unchanged (signature included).
 */
export async function checkingEndpoint(
  service: 's3' | 'dynamodb',
  emulator: string,
  principal: Principal,
  options: { bucketPolicy?: PolicyDocument } = {},
): Promise<{ url: string; denials: Denial[]; calls: Denial[]; close: () => Promise<void> }> {
  const denials: Denial[] = [];
  const calls: Denial[] = [];
  const target = new URL(emulator);
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://localhost');
      const { command, input } = operationOf(service, req.method ?? 'GET', url, req.headers, body);
      const resourcePolicy = service === 's3' ? options.bucketPolicy : undefined;
      for (const authorization of authorizationsOf(service, command, input)) {
        const entry = { principal: principal.name, action: authorization.action, resource: authorization.resource };
        calls.push(entry);
        if (!(await isAllowed(principal, authorization, resourcePolicy))) {
          denials.push(entry);
          const message = `${principal.name} is not authorized to perform ${authorization.action} on resource ${authorization.resource}`;
          if (service === 's3') {
            res.writeHead(403, { 'content-type': 'application/xml' });
            res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>${message}</Message></Error>`);
          } else {
            res.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' });
            res.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message }));
          }
          return;
        }
      }
      const forwarded = httpRequest(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        async (upstream) => {
          const isRead = command === 'GetObjectCommand' || command === 'HeadObjectCommand';
          const list = { action: 's3:ListBucket', resource: `arn:aws:s3:::${input.Bucket}`, context: { 'aws:SecureTransport': 'true' } };
          // S3 answers a read of a missing key with 404 only to a caller that may list the bucket.
          if (service === 's3' && isRead && upstream.statusCode === 404 && !(await isAllowed(principal, list, options.bucketPolicy))) {
            upstream.resume();
            denials.push({ principal: principal.name, action: 's3:ListBucket (missing key answered 403)', resource: list.resource });
            res.writeHead(403, { 'content-type': 'application/xml' });
            res.end(
              req.method === 'HEAD'
                ? undefined
                : '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
            );
            return;
          }
          res.writeHead(upstream.statusCode ?? 500, upstream.headers);
          upstream.pipe(res);
        },
      );
      forwarded.on('error', (error) => res.destroy(error));
      forwarded.end(body);
    } catch (error) {
      res.writeHead(500);
      res.end(String(error));
    }
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    denials,
    calls,
    close: async () => {
      server.closeAllConnections();
      await new Promise((closed) => server.close(closed));
    },
  };
}
