// The compiled stack, as `serverless package` writes it (offline, no credentials), with its
// intrinsic functions resolved for one emulated account: what the rehearsal deploys.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

// biome-ignore lint/suspicious/noExplicitAny: CloudFormation is untyped JSON, read by shape
export type Json = any;

export interface Template {
  Resources: Record<string, { Type: string; Properties: Json; DependsOn?: string[] }>;
  Outputs: Record<string, { Value: Json }>;
}

export interface Account {
  account: string;
  region: string;
  stage: string;
  stackName: string;
  stackId: string;
  /** Where the emulated HTTP API answers (the stack's PlaybackBaseUrl). */
  apiEndpoint: string;
  /** The port the emulated function URLs answer on, each under a host name of its own. */
  functionUrlPort: number;
  /** The port emulated SQS answers on (queue URLs `http://sqs.<region>.localhost:<port>/<account>/<name>`). */
  queuePort: number;
}

/** A function URL's host, as Lambda names it (`<url-id>.lambda-url.<region>.on.aws`), under localhost here. */
export function functionUrlHost(logicalId: string, account: Pick<Account, 'region'>): string {
  return `${logicalId.toLowerCase()}.lambda-url.${account.region}.localhost`;
}

export function emulatedAccount(stage: string, apiEndpoint: string, functionUrlPort: number, queuePort: number): Account {
  const stackName = `lambda-hls-${stage}`;
  return {
    account: '000000000000',
    region: 'us-east-1',
    stage,
    stackName,
    stackId: `arn:aws:cloudformation:us-east-1:000000000000:stack/${stackName}/5e1a2b3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c`,
    apiEndpoint,
    functionUrlPort,
    queuePort,
  };
}

/** `serverless package` into `out`: the template, each function's zip and the layer's zip. */
export function packageStack(stage: string, out: string, scratch: string, params: Record<string, string> = {}): Template {
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE']) delete env[name];
  env.AWS_SHARED_CREDENTIALS_FILE = join(scratch, 'no-credentials');
  env.AWS_CONFIG_FILE = join(scratch, 'no-config');
  env.AWS_EC2_METADATA_DISABLED = 'true';
  const run = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'serverless', 'bin', 'serverless.js'),
      'package',
      '--stage',
      stage,
      '--package',
      out,
      ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`),
    ],
    {
      cwd: ROOT,
      env,
      encoding: 'utf8',
      timeout: 240_000,
    },
  );
  if (run.status !== 0) throw new Error(`serverless package failed (${run.status ?? run.signal}):\n${run.stdout}\n${run.stderr}`);
  return JSON.parse(readFileSync(join(out, 'cloudformation-template-update-stack.json'), 'utf8')) as Template;
}

/** What Ref and Fn::GetAtt of each resource give in the emulated account. */
function physical(template: Template, account: Account, id: string, attribute?: string): unknown {
  const resource = template.Resources[id];
  if (!resource) throw new Error(`the template has no resource ${id}`);
  const { region, account: acct } = account;
  switch (resource.Type) {
    case 'AWS::S3::Bucket':
      return attribute === 'Arn'
        ? `arn:aws:s3:::${resolve(template, account, resource.Properties.BucketName)}`
        : resolve(template, account, resource.Properties.BucketName);
    case 'AWS::IAM::Role':
      return attribute === 'Arn' ? `arn:aws:iam::${acct}:role/${id}` : id;
    case 'AWS::Lambda::Function': {
      const name = resolve(template, account, resource.Properties.FunctionName) as string;
      return attribute === 'Arn' ? `arn:aws:lambda:${region}:${acct}:function:${name}` : name;
    }
    case 'AWS::StepFunctions::StateMachine':
      return `arn:aws:states:${region}:${acct}:stateMachine:${resolve(template, account, resource.Properties.StateMachineName)}`;
    case 'AWS::ApiGatewayV2::Api':
      return attribute === 'ApiEndpoint' ? account.apiEndpoint : id;
    case 'AWS::Lambda::Url':
      // FunctionUrl ends with a slash, as Lambda's does.
      return attribute === 'FunctionUrl' ? `http://${functionUrlHost(id, account)}:${account.functionUrlPort}/` : id;
    case 'AWS::SQS::Queue': {
      const name = resolve(template, account, resource.Properties.QueueName) as string;
      if (attribute === 'Arn') return `arn:aws:sqs:${region}:${acct}:${name}`;
      if (attribute === 'QueueName') return name;
      return `http://sqs.${region}.localhost:${account.queuePort}/${acct}/${name}`;
    }
    case 'AWS::Lambda::LayerVersion':
      return `arn:aws:lambda:${region}:${acct}:layer:${resolve(template, account, resource.Properties.LayerName)}:1`;
    default:
      return attribute ? `${id}.${attribute}` : id;
  }
}

/** A template value with every intrinsic function the stack uses evaluated. */
export function resolve(template: Template, account: Account, value: Json): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => resolve(template, account, v));
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': account.region,
    'AWS::AccountId': account.account,
    'AWS::StackId': account.stackId,
    'AWS::StackName': account.stackName,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  if ('Ref' in value) return pseudo[value.Ref] ?? physical(template, account, value.Ref);
  if ('Fn::GetAtt' in value) {
    const [id, attribute] = Array.isArray(value['Fn::GetAtt']) ? value['Fn::GetAtt'] : String(value['Fn::GetAtt']).split('.');
    return physical(template, account, id, attribute);
  }
  if ('Fn::Join' in value) return (resolve(template, account, value['Fn::Join'][1]) as string[]).join(value['Fn::Join'][0]);
  if ('Fn::Split' in value) return (resolve(template, account, value['Fn::Split'][1]) as string).split(value['Fn::Split'][0]);
  if ('Fn::Select' in value) return (resolve(template, account, value['Fn::Select'][1]) as unknown[])[Number(value['Fn::Select'][0])];
  if ('Fn::Sub' in value) {
    const [text, vars] = Array.isArray(value['Fn::Sub']) ? value['Fn::Sub'] : [value['Fn::Sub'], {}];
    return (text as string).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
      if (name in vars) return String(resolve(template, account, vars[name]));
      const [id, attribute] = name.split('.');
      return String(attribute ? physical(template, account, id!, attribute) : (pseudo[name] ?? physical(template, account, name)));
    });
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(template, account, v)]));
}

/** Resources of one type, their properties resolved. */
export function resourcesOfType(template: Template, account: Account, type: string): [string, Json][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, resolve(template, account, r.Properties)]);
}
