// SQS for the rehearsal: the queues of the template, on AWS's JSON protocol (what SDK v3 speaks),
// with what the product relies on — messages held out of sight for a visibility timeout after a
// receive, given back (ChangeMessageVisibility 0) or deleted by their receipt handle, a receipt
// handle that no longer holds after the message was received again, and each call evaluated
// against the template's policies (sqs:<Action> on the queue's ARN).
// (docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/)
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { accessKeyOf, type Iam } from './iam';

interface Message {
  id: string;
  body: string;
  sentAt: number;
  visibleAt: number;
  receipt?: string;
  receives: number;
}

interface Queue {
  name: string;
  arn: string;
  messages: Message[];
}

export interface SqsEmulator {
  /** `http://sqs.<region>.localhost:<port>`: queue URLs are `<it>/<account>/<name>`, as AWS's are. */
  endpoint: string;
  port: number;
  /** Creates a queue (the template's, as CloudFormation would). */
  createQueue(name: string): string;
  /** Sends as a principal (Lambda sends a destination record as the function's role); false when IAM refuses. */
  send(accessKeyId: string, queueArn: string, body: string): Promise<boolean>;
  /** Every message of a queue, held or not (what a test inspects). */
  messages(name: string): readonly { id: string; body: string }[];
  close(): Promise<void>;
}

class SqsError extends Error {
  constructor(
    readonly type: string,
    readonly queryError: string,
    message: string,
  ) {
    super(message);
  }
}

const md5 = (text: string) => createHash('md5').update(text, 'utf8').digest('hex');

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return parts.length ? (JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>) : {};
}

export async function startSqs(options: { region: string; account: string; iam: () => Iam | undefined }): Promise<SqsEmulator> {
  const queues = new Map<string, Queue>();
  let port = 0;
  const urlOf = (q: Queue) => `http://sqs.${options.region}.localhost:${port}/${options.account}/${q.name}`;
  const byUrl = (url: unknown): Queue => {
    const name = String(url ?? '')
      .split('/')
      .pop();
    const queue = name ? queues.get(name) : undefined;
    if (!queue || String(url).split('/').at(-2) !== options.account) {
      throw new SqsError('QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'The specified queue does not exist.');
    }
    return queue;
  };
  const visible = (q: Queue, now: number) => q.messages.filter((m) => m.visibleAt <= now);
  const held = (q: Queue, receipt: unknown): Message => {
    const message = q.messages.find((m) => m.receipt !== undefined && m.receipt === receipt);
    if (!message)
      throw new SqsError(
        'ReceiptHandleIsInvalid',
        'ReceiptHandleIsInvalid;Sender',
        `The receipt handle "${String(receipt)}" is not valid.`,
      );
    return message;
  };
  const enqueue = (q: Queue, text: string): string => {
    // SQS's limit since August 2025: 1 MiB.
    if (Buffer.byteLength(text) > 1_048_576)
      throw new SqsError('InvalidParameterValue', 'InvalidParameterValue;Sender', 'message too long');
    const id = randomUUID();
    q.messages.push({ id, body: text, sentAt: Date.now(), visibleAt: 0, receives: 0 });
    return id;
  };
  const hold = (value: unknown, fallback: number): number => {
    const n = value === undefined ? fallback : Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 43_200)
      throw new SqsError(
        'InvalidParameterValue',
        'InvalidParameterValue;Sender',
        `Value ${String(value)} for parameter VisibilityTimeout is invalid.`,
      );
    return n;
  };

  const operations: Record<string, (input: Record<string, unknown>, queue: Queue) => Promise<unknown> | unknown> = {
    GetQueueUrl: (_input, queue) => ({ QueueUrl: urlOf(queue) }),
    // The SDK checks each body against its MD5, as SQS sends it.
    SendMessage: (input, queue) => ({
      MessageId: enqueue(queue, String(input.MessageBody ?? '')),
      MD5OfMessageBody: md5(String(input.MessageBody ?? '')),
    }),
    async ReceiveMessage(input, queue) {
      const max = Number(input.MaxNumberOfMessages ?? 1);
      if (!Number.isInteger(max) || max < 1 || max > 10)
        throw new SqsError('InvalidParameterValue', 'InvalidParameterValue;Sender', 'MaxNumberOfMessages must be from 1 to 10.');
      const timeout = hold(input.VisibilityTimeout, 30);
      const waitMs = Math.min(Number(input.WaitTimeSeconds ?? 0), 20) * 1000;
      const deadline = Date.now() + waitMs;
      let ready = visible(queue, Date.now());
      while (ready.length === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        ready = visible(queue, Date.now());
      }
      const now = Date.now();
      const taken = ready.slice(0, max);
      for (const m of taken) {
        m.receipt = `${m.id}:${randomUUID()}`; // a new handle each receive: the earlier one is spent
        m.visibleAt = now + timeout * 1000;
        m.receives++;
      }
      return {
        Messages: taken.map((m) => ({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          Body: m.body,
          MD5OfBody: md5(m.body),
          Attributes: { SentTimestamp: String(m.sentAt), ApproximateReceiveCount: String(m.receives) },
        })),
      };
    },
    ChangeMessageVisibility(input, queue) {
      const message = held(queue, input.ReceiptHandle);
      if (message.visibleAt <= Date.now()) {
        throw new SqsError('MessageNotInflight', 'AWS.SimpleQueueService.MessageNotInflight;Sender', 'Message not inflight.');
      }
      message.visibleAt = Date.now() + hold(input.VisibilityTimeout, 0) * 1000;
      return {};
    },
    DeleteMessage(input, queue) {
      const message = held(queue, input.ReceiptHandle);
      queue.messages.splice(queue.messages.indexOf(message), 1);
      return {};
    },
    GetQueueAttributes: (_input, queue) => ({
      Attributes: {
        QueueArn: queue.arn,
        ApproximateNumberOfMessages: String(visible(queue, Date.now()).length),
        ApproximateNumberOfMessagesNotVisible: String(queue.messages.length - visible(queue, Date.now()).length),
      },
    }),
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSQS\./, '');
    body(req)
      .then(async (input) => {
        const handler = operations[operation];
        if (!handler)
          throw new SqsError('UnsupportedOperation', 'AWS.SimpleQueueService.UnsupportedOperation;Sender', `${operation} is not emulated`);
        const queue = operation === 'GetQueueUrl' ? queues.get(String(input.QueueName)) : byUrl(input.QueueUrl);
        if (!queue)
          throw new SqsError('QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'The specified queue does not exist.');
        const accessKeyId = accessKeyOf(req.headers, new URLSearchParams()) ?? 'anonymous';
        const iam = options.iam();
        if (iam && !(await iam.allows(accessKeyId, `sqs:${operation}`, queue.arn))) {
          throw new SqsError(
            'AccessDenied',
            'AccessDenied;Sender',
            `User: ${iam.principalOf(accessKeyId)} is not authorized to perform: sqs:${operation} on resource: ${queue.arn}`,
          );
        }
        return handler(input, queue);
      })
      .then(
        (out) => {
          res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
          res.end(JSON.stringify(out));
        },
        (error: Error) => {
          const known = error instanceof SqsError;
          res.writeHead(known ? 400 : 500, {
            'Content-Type': 'application/x-amz-json-1.0',
            ...(known && { 'x-amzn-query-error': error.queryError }),
          });
          res.end(JSON.stringify({ __type: `com.amazonaws.sqs#${known ? error.type : 'InternalError'}`, message: error.message }));
        },
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
  return {
    endpoint: `http://sqs.${options.region}.localhost:${port}`,
    port,
    createQueue(name) {
      const queue: Queue = { name, arn: `arn:aws:sqs:${options.region}:${options.account}:${name}`, messages: [] };
      queues.set(name, queue);
      return urlOf(queue);
    },
    async send(accessKeyId, queueArn, text) {
      const queue = [...queues.values()].find((q) => q.arn === queueArn);
      const iam = options.iam();
      if (!queue || (iam && !(await iam.allows(accessKeyId, 'sqs:SendMessage', queueArn)))) return false;
      enqueue(queue, text);
      return true;
    },
    messages: (name) => (queues.get(name)?.messages ?? []).map((m) => ({ id: m.id, body: m.body })),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
