'use strict';
// What Lambda's Node.js runtime does for one execution environment, enough for the rehearsal: load
// the handler once (init), then answer each invocation (sent over IPC) with its result, or with the
// error as the runtime reports it ({errorType, errorMessage, trace}), which Step Functions turns
// into the Task's Error and Cause.
const { Writable } = require('node:stream');
const { finished } = require('node:stream/promises');

const [file, exported] = process.argv.slice(2);

// Response streaming, as the runtime provides it to every function (a global): a streamified
// handler gets (event, responseStream); HttpResponseStream.from writes the HTTP prelude (status,
// headers) as JSON and eight NUL bytes before the body, which the function URL reads back.
const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = 'response';
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.write(JSON.stringify(prelude));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

let handler;
let initError;
try {
  handler = require(file)[exported];
  if (typeof handler !== 'function') throw Object.assign(new Error(`${file} exports no ${exported}`), { name: 'Runtime.HandlerNotFound' });
} catch (error) {
  initError = {
    errorType: error.code === 'MODULE_NOT_FOUND' ? 'Runtime.ImportModuleError' : (error.name ?? 'Error'),
    errorMessage: String(error.message),
  };
}

const asReport = (error) => ({
  errorType: error?.name || 'Error',
  errorMessage: error?.message !== undefined ? String(error.message) : String(error),
  trace: String(error?.stack || '').split('\n'),
});

/** The response stream of one invocation: its bytes go to the caller as they are written. */
function responseStream(id) {
  return new Writable({
    write(chunk, _encoding, done) {
      process.send({ id, chunk: Buffer.from(chunk).toString('base64') }, () => done());
    },
  });
}

/** The context object Lambda passes beside the event (the fields a handler reads). */
function contextOf(id) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT ?? 3) * 1000;
  return {
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: `rehearsal-${process.pid}-${id}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
}

process.on('message', async ({ id, event }) => {
  if (initError) return process.send({ id, error: initError });
  try {
    if (handler[STREAMING] === 'response') {
      const stream = responseStream(id);
      await handler(event, stream, contextOf(id));
      if (!stream.writableEnded) stream.end();
      await finished(stream);
      return process.send({ id, result: null });
    }
    const result = await handler(event, contextOf(id));
    process.send({ id, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (error) {
    process.send({ id, error: asReport(error) });
  }
});
process.send({ ready: true });
