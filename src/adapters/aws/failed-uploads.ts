// start-conversion's on-failure destination, an SQS queue (deploy/stack.js), read by the CLI. Its
// messages are taken out of sight while they are looked at (a visibility timeout), then given
// back, or deleted once their upload's conversion has started.
import { ChangeMessageVisibilityCommand, DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface QueuedMessage {
  id: string;
  body: string;
  /** Needed to give it back or delete it; valid while it is held. */
  receipt: string;
}

/** At most this many are read in one call: a list, or a retry, of more is done again for the rest. */
export const MAX_TAKEN = 1000;

export class FailedUploadsQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly url: string,
  ) {}

  /**
   * Every message (up to MAX_TAKEN), each held out of sight for `holdSeconds`: no other reader sees
   * it meanwhile, so one is not retried twice at once. The last, empty, answer waits a second: a
   * short poll samples only some of SQS's servers and may answer empty while messages remain.
   */
  async take(holdSeconds: number): Promise<QueuedMessage[]> {
    const taken: QueuedMessage[] = [];
    while (taken.length < MAX_TAKEN) {
      const out = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: 10,
          VisibilityTimeout: holdSeconds,
          WaitTimeSeconds: 1,
        }),
      );
      const messages = out.Messages ?? [];
      if (messages.length === 0) break;
      for (const m of messages) {
        if (m.MessageId && m.ReceiptHandle) taken.push({ id: m.MessageId, body: m.Body ?? '', receipt: m.ReceiptHandle });
      }
    }
    return taken;
  }

  /** Visible again at once, for the next list or retry. */
  async giveBack(message: QueuedMessage): Promise<void> {
    await this.sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: this.url, ReceiptHandle: message.receipt, VisibilityTimeout: 0 }));
  }

  async remove(message: QueuedMessage): Promise<void> {
    await this.sqs.send(new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: message.receipt }));
  }
}
