// Loaded with `node --require` by the benchmark: writes the process's peak resident set size
// (bytes) to $BENCH_RSS_FILE as it exits.
const { writeFileSync } = require('node:fs');

process.on('exit', () => {
  if (process.env.BENCH_RSS_FILE) writeFileSync(process.env.BENCH_RSS_FILE, String(process.resourceUsage().maxRSS * 1024));
});
