// The direct-upload bound against the real SDK: CreateFunction's request, serialised as the SDK
// sends it (no aws-sdk-client-mock here: it would replace the client's send).
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import { LambdaCodeStore } from '../../src/adapters/aws/code-store';
import { CREATE_FUNCTION_REQUEST_LIMIT, DIRECT_UPLOAD_BYTES } from '../../src/core/packing';
import { bufferSource } from '../support/memory';

describe('LambdaCodeStore, the direct upload bound', () => {
  it("sends the largest direct zip in a request under CreateFunction's limit, with the longest names", async () => {
    let requestBytes = 0;
    // A real client and serialiser; the request is measured, then stopped before it leaves.
    const lambda = new LambdaClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
      requestHandler: {
        handle: async (request: { body: string }) => {
          requestBytes = Buffer.byteLength(request.body);
          throw Object.assign(new Error('measured'), { name: 'Measured' });
        },
      } as never,
    });
    const store = new LambdaCodeStore(lambda, new S3Client({ region: 'us-east-1' }), {
      roleArn: `arn:aws:iam::123456789012:role/${'r'.repeat(64)}`,
      stagingBucket: 'work',
      runtime: 'provided.al2023',
    });
    await expect(store.createPackage('f'.repeat(64), bufferSource(Buffer.alloc(DIRECT_UPLOAD_BYTES)))).rejects.toThrow('measured');
    expect(requestBytes).toBeGreaterThan(CREATE_FUNCTION_REQUEST_LIMIT - 600);
    expect(requestBytes).toBeLessThan(CREATE_FUNCTION_REQUEST_LIMIT);
  });
});
