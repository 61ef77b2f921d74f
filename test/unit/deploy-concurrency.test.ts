// `serverless deploy` checks the reserved concurrency the template asks for against the account
// before CloudFormation runs (deploy/plugin.js → deploy/concurrency.js).

interface Reservation {
  key: string;
  name: string;
  reserved: number;
}
interface LambdaReads {
  accountSettings(): Promise<unknown>;
  functionConcurrency(name: string): Promise<number | undefined>;
}
// deploy/ is the framework's CommonJS, read as it loads it.
const { checkReservations, reservationProblem } = require('../../deploy/concurrency.js') as {
  checkReservations(template: unknown, lambda: LambdaReads, region: string): Promise<unknown>;
  reservationProblem(input: {
    reservations: Reservation[];
    current: Record<string, number>;
    account: { limit: number; unreserved: number };
    region: string;
  }): string | undefined;
};
const LambdaHlsDeploy = require('../../deploy/plugin.js') as new (serverless: unknown) => { hooks: Record<string, () => Promise<void>> };

const reserving = (reservations: Record<string, number>) => ({
  Resources: Object.fromEntries(
    Object.entries(reservations).map(([key, reserved]) => [
      `${key[0]!.toUpperCase()}${key.slice(1)}LambdaFunction`,
      { Type: 'AWS::Lambda::Function', Properties: { FunctionName: `lambda-hls-dev-${key}`, ReservedConcurrentExecutions: reserved } },
    ]),
  ),
});
const settings = (limit: number, unreserved = limit) => ({
  AccountLimit: { ConcurrentExecutions: limit, UnreservedConcurrentExecutions: unreserved },
});

describe('reserved concurrency at deploy', () => {
  it('refuses on a new account (10 in all) what AWS would refuse mid-deploy, saying what the account has and what to pass', async () => {
    const lambda = { accountSettings: async () => settings(10), functionConcurrency: async () => undefined };
    await expect(checkReservations(reserving({ serveSegment: 20, deliverSegment: 20 }), lambda, 'eu-west-1')).rejects.toThrow(
      'this deploy reserves 40 concurrent executions (serveSegment 20, deliverSegment 20), but the account\'s Lambda concurrency in eu-west-1 is 10 with 10 unreserved, and AWS keeps at least 10 unreserved: it can reserve none (--param="serveSegmentConcurrency=none" --param="deliverSegmentConcurrency=none")',
    );
  });

  it('takes reservations that leave AWS its 100 unreserved, counting what the same functions already hold', () => {
    const reservations = [
      { key: 'serveSegment', name: 'lambda-hls-dev-serveSegment', reserved: 20 },
      { key: 'deliverSegment', name: 'lambda-hls-dev-deliverSegment', reserved: 20 },
    ];
    const region = 'us-east-1';
    expect(reservationProblem({ reservations, current: {}, account: { limit: 1000, unreserved: 1000 }, region })).toBeUndefined();
    // Other functions of the account hold 870: 130 left, 40 more would leave 90.
    expect(reservationProblem({ reservations, current: {}, account: { limit: 1000, unreserved: 130 }, region })).toContain(
      'is 1000 with 130 unreserved, and AWS keeps at least 100 unreserved: reserve at most 30 in all',
    );
    // A redeploy: these two hold 40 already (not in the 130), so the same 40 fit.
    const current = { 'lambda-hls-dev-serveSegment': 20, 'lambda-hls-dev-deliverSegment': 20 };
    expect(reservationProblem({ reservations, current, account: { limit: 1000, unreserved: 130 }, region })).toBeUndefined();
  });

  it('asks the account nothing when the template reserves nothing (the default)', async () => {
    const lambda = { accountSettings: jest.fn(), functionConcurrency: jest.fn() };
    expect(await checkReservations({ Resources: {} }, lambda, 'us-east-1')).toBeUndefined();
    expect(lambda.accountSettings).not.toHaveBeenCalled();
  });

  it('stops `serverless deploy` before CloudFormation, through the framework', async () => {
    class ServerlessError extends Error {}
    const requests: string[] = [];
    const provider = {
      getRegion: () => 'us-east-1',
      request: async (service: string, method: string) => {
        requests.push(`${service}.${method}`);
        if (method === 'getAccountSettings') return settings(50);
        throw Object.assign(new Error('Function not found'), { providerError: { code: 'ResourceNotFoundException' } });
      },
    };
    const plugin = new LambdaHlsDeploy({
      getProvider: () => provider,
      service: { provider: { compiledCloudFormationTemplate: reserving({ serveSegment: 20 }) } },
      classes: { Error: ServerlessError },
      cli: { log: () => undefined },
    });
    const deploy = plugin.hooks['before:deploy:deploy']!;
    await expect(deploy()).rejects.toThrow(ServerlessError);
    await expect(deploy()).rejects.toThrow(/reserves 20 .* is 50 with 50 unreserved, and AWS keeps at least 50 unreserved/);
    expect(requests).toContain('Lambda.getFunctionConcurrency');
  });
});
