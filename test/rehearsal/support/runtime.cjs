'use strict';
// What Lambda's Node.js runtime does for one execution environment, enough for the rehearsal: load
// the handler once (init), then answer each invocation (sent over IPC) with its result, or with the
// error as the runtime reports it ({errorType, errorMessage, trace}), which Step Functions turns
// into the Task's Error and Cause.
const [file, exported] = process.argv.slice(2);

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

process.on('message', async ({ id, event }) => {
  if (initError) return process.send({ id, error: initError });
  try {
    const result = await handler(event);
    process.send({ id, result: result === undefined ? null : JSON.parse(JSON.stringify(result)) });
  } catch (error) {
    process.send({ id, error: asReport(error) });
  }
});
process.send({ ready: true });
