// The serve bench's load generator, in a process of its own so its CPU is not the server's:
// autocannon with keep-alive connections, cycling over the paths it is given. Reads its job as JSON
// from argv[2] ({ url, paths, seconds, connections, workers, expect }) and prints autocannon's result
// as JSON on stdout. Exits non-zero when any answer had another status than `expect`.
import autocannon from 'autocannon';

const job = JSON.parse(process.argv[2]);
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.seconds,
  ...(job.workers > 1 && { workers: job.workers }),
  requests: job.paths.map((path) => ({ method: 'GET', path })),
  expectBody: undefined,
});
const wrong = Object.entries(result.statusCodeStats ?? {})
  .filter(([status]) => Number(status) !== job.expect)
  .reduce((sum, [, { count }]) => sum + count, 0);
process.stdout.write(JSON.stringify(result));
if (wrong > 0 || result.errors > 0 || result.timeouts > 0) {
  process.stderr.write(`${wrong} answers were not ${job.expect}; ${result.errors} errors, ${result.timeouts} timeouts\n`);
  process.exitCode = 1;
}
