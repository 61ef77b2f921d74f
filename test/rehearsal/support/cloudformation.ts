// Emulated CloudFormation, as far as the CLI's --stage reads it: DescribeStacks (awsQuery protocol,
// XML answers, from the API reference) for the one deployed stack, with the template's Outputs
// resolved in the emulated account; any other stack name is ValidationError "does not exist".
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type Account, resolve, type Template } from './stack';

const NS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export interface CloudFormationEmulator {
  endpoint: string;
  close(): Promise<void>;
}

export async function startCloudFormation(template: Template, account: Account): Promise<CloudFormationEmulator> {
  const outputs = Object.entries(template.Outputs).map(([key, output]) => [key, String(resolve(template, account, output.Value))] as const);
  const created = new Date().toISOString();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const parts: Buffer[] = [];
    req.on('data', (chunk: Buffer) => parts.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(parts).toString('utf8'));
      const action = form.get('Action');
      const name = form.get('StackName');
      res.setHeader('Content-Type', 'text/xml');
      if (action !== 'DescribeStacks' || (name !== account.stackName && name !== account.stackId)) {
        const message = action === 'DescribeStacks' ? `Stack with id ${name} does not exist` : `${action} is not emulated`;
        res
          .writeHead(400)
          .end(
            `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>${xml(message)}</Message></Error><RequestId>rehearsal</RequestId></ErrorResponse>`,
          );
        return;
      }
      const members = outputs
        .map(([key, value]) => `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`)
        .join('');
      res
        .writeHead(200)
        .end(
          `<DescribeStacksResponse xmlns="${NS}"><DescribeStacksResult><Stacks><member><StackName>${xml(account.stackName)}</StackName>` +
            `<StackId>${xml(account.stackId)}</StackId><StackStatus>UPDATE_COMPLETE</StackStatus><CreationTime>${created}</CreationTime>` +
            `<Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>rehearsal</RequestId></ResponseMetadata></DescribeStacksResponse>`,
        );
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://cloudformation.localhost:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
