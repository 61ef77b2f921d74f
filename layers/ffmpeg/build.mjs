// Assembles the ffmpeg layer (bin/ffmpeg, bin/ffprobe → /opt/bin in Lambda) from the static
// binaries shipped in npm packages for this machine's architecture. Lambda allows 250 MB
// unzipped for a function and its layers together; the script fails if the layer alone is over.
import { chmodSync, copyFileSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'bin');
const LIMIT = 250 * 1024 * 1024;

rmSync(join(here, 'build'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let total = 0;
for (const [name, pkg] of [['ffmpeg', '@ffmpeg-installer/ffmpeg'], ['ffprobe', '@ffprobe-installer/ffprobe']]) {
  const source = require(pkg).path;
  copyFileSync(source, join(out, name));
  chmodSync(join(out, name), 0o755);
  total += statSync(source).size;
  console.log(`layer: bin/${name} from ${pkg} (${(statSync(source).size / 1e6).toFixed(1)} MB)`);
}
if (total > LIMIT) {
  console.error(`layer: ${(total / 1e6).toFixed(1)} MB unzipped is over Lambda's 250 MB`);
  process.exit(1);
}
console.log(`layer: ${(total / 1e6).toFixed(1)} MB unzipped, for ${process.arch}`);
