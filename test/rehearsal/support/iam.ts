// IAM for the rehearsal: every call an emulator receives is attributed to a principal by its access
// key (each function's processes sign with credentials naming the function's role) and evaluated
// with an IAM policy simulator from npm (@cloud-copilot/iam-simulate; AGPL: a devDependency, never
// bundled) against the template's own identity policies (each role's) and resource policies (each
// bucket's). A denied call is answered AccessDenied, as in AWS, and recorded.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { roleCredentials } from './functions';
import { type Account, type Json, resourcesOfType, type Template } from './stack';

export interface Denial {
  principal: string;
  action: string;
  resource: string;
  result: string;
}

interface Principal {
  arn: string;
  /** An administrator (the person running the CLI) or AWS itself (the Lambda service's code bucket). */
  unrestricted?: boolean;
  policies: { name: string; policy: Json }[];
}

export class Iam {
  readonly denials: Denial[] = [];
  readonly checked = { allowed: 0, denied: 0 };
  private readonly principals = new Map<string, Principal>();
  private readonly bucketPolicies = new Map<string, Json>();
  /** Grants taken away by a test, as `<role>:<action>`. */
  private readonly revoked = new Set<string>();

  constructor(
    template: Template,
    private readonly account: Account,
    unrestricted: { accessKeyId: string; name: string }[],
  ) {
    for (const [id, props] of resourcesOfType(template, account, 'AWS::IAM::Role')) {
      const policies = ((props.Policies ?? []) as { PolicyName: string; PolicyDocument: Json }[]).map((p) => ({
        name: p.PolicyName,
        policy: p.PolicyDocument,
      }));
      this.principals.set(roleCredentials(id).accessKeyId, { arn: `arn:aws:iam::${account.account}:role/${id}`, policies });
    }
    for (const { accessKeyId, name } of unrestricted) {
      this.principals.set(accessKeyId, { arn: `arn:aws:iam::${account.account}:user/${name}`, unrestricted: true, policies: [] });
    }
    const bucketNames = new Map(resourcesOfType(template, account, 'AWS::S3::Bucket').map(([id, p]) => [id, String(p.BucketName)]));
    for (const [, props] of resourcesOfType(template, account, 'AWS::S3::BucketPolicy')) {
      const bucket = bucketNames.get(String(props.Bucket)) ?? String(props.Bucket);
      this.bucketPolicies.set(bucket, props.PolicyDocument);
    }
  }

  /** The role an access key belongs to, by its logical id (for messages). */
  principalOf(accessKeyId: string): string {
    return this.principals.get(accessKeyId)?.arn ?? `unknown key ${accessKeyId}`;
  }

  /** Takes a grant away from a role, as if it were missing from the template (a test that the check can fail). */
  revoke(role: string, action: string): () => void {
    const key = `${role}:${action}`;
    this.revoked.add(key);
    return () => this.revoked.delete(key);
  }

  /**
   * Whether the call is allowed; a denial is recorded, unless `question` (S3 asking itself whether
   * a reader may list, to answer a missing key 404 or 403: no call was refused). `bucket` names the S3 bucket whose policy
   * applies; the emulators speak plain HTTP on 127.0.0.1 where AWS speaks TLS, so aws:SecureTransport
   * is true, as it is for every call the product makes.
   */
  async allows(
    accessKeyId: string,
    action: string,
    resource: string,
    options: { bucket?: string; context?: Record<string, string>; question?: boolean } = {},
  ): Promise<boolean> {
    const principal = this.principals.get(accessKeyId);
    if (principal?.unrestricted) return true;
    const role = principal?.arn.split('/').pop() ?? '';
    let result = 'UnknownPrincipal';
    if (principal && !this.revoked.has(`${role}:${action}`)) {
      const response = await runSimulation(
        {
          identityPolicies: principal.policies,
          serviceControlPolicies: [],
          resourceControlPolicies: [],
          ...(options.bucket && this.bucketPolicies.has(options.bucket) && { resourcePolicy: this.bucketPolicies.get(options.bucket) }),
          request: {
            principal: principal.arn,
            action,
            resource: { resource, accountId: this.account.account },
            contextVariables: { 'aws:SecureTransport': 'true', ...options.context },
          },
        },
        {},
      );
      result =
        response.resultType === 'error'
          ? `SimulationError: ${JSON.stringify(response.errors).slice(0, 300)}`
          : String(response.overallResult);
    } else if (principal) result = 'Revoked';
    if (result === 'Allowed') {
      this.checked.allowed++;
      return true;
    }
    if (options.question) return false;
    this.checked.denied++;
    this.denials.push({ principal: principal?.arn ?? accessKeyId, action, resource, result });
    return false;
  }
}

/** The access key of a request signed with SigV4, in its Authorization header or its presigned query. */
export function accessKeyOf(headers: Record<string, string | string[] | undefined>, query: URLSearchParams): string | undefined {
  const authorization = headers.authorization;
  const fromHeader = typeof authorization === 'string' ? /Credential=([^/,\s]+)\//.exec(authorization)?.[1] : undefined;
  return fromHeader ?? query.get('X-Amz-Credential')?.split('/')[0] ?? undefined;
}
