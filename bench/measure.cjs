// Loaded with `node --require` by the benchmark: as the process exits, writes to $BENCH_MEASURE_FILE
// its peak resident set size (bytes) and its I/O counters from /proc/self/io, which include those
// of the children it has waited for (ffmpeg, ffprobe): `rchar`/`wchar` are the bytes its read and
// write calls moved (page cache or not), `read_bytes`/`write_bytes` what reached the disk layer.
const { readFileSync, writeFileSync } = require('node:fs');

process.on('exit', () => {
  const file = process.env.BENCH_MEASURE_FILE;
  if (!file) return;
  const io = {};
  try {
    for (const line of readFileSync('/proc/self/io', 'utf8').split('\n')) {
      const [key, value] = line.split(':');
      if (key && value) io[key.trim()] = Number(value);
    }
  } catch {
    // not Linux: no I/O counters
  }
  writeFileSync(file, JSON.stringify({ rssBytes: process.resourceUsage().maxRSS * 1024, io }));
});
