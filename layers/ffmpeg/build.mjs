// Assembles the ffmpeg layer (bin/ffmpeg, bin/ffprobe → /opt/bin in Lambda) from the static
// binaries shipped in npm packages, for the architecture the functions run on (x86_64 by
// default, as in serverless.yml; `--arch arm64` for Graviton). Lambda allows 250 MB unzipped for
// a function and its layers together; the script fails if the layer alone leaves too little room.
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'build', 'bin');
const LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024;
/** What the function code of ValidateInput or SegmentMedia may still use next to the layer. */
const ROOM_FOR_CODE = 20 * 1024 * 1024;

const archFlag = process.argv.indexOf('--arch');
const arch = archFlag > 0 ? process.argv[archFlag + 1] : 'x86_64';
const npmArch = { x86_64: 'x64', arm64: 'arm64' }[arch];
if (!npmArch) {
  console.error(`layer: --arch must be x86_64 or arm64 (Lambda's architectures), got ${arch}`);
  process.exit(2);
}

// The binary packages are optional dependencies installed for the machine npm runs on; a layer
// for another platform needs its package added by hand.
const sources = [
  ['ffmpeg', `@ffmpeg-installer/linux-${npmArch}`, 'ffmpeg'],
  ['ffprobe', `@ffprobe-installer/linux-${npmArch}`, 'ffprobe'],
];
const missing = sources.filter(([, pkg]) => !resolvePackage(pkg));
if (missing.length > 0) {
  const list = missing.map(([, pkg]) => pkg).join(' ');
  console.error(`layer: ${list} not installed (npm installs the binaries of the machine it runs on).`);
  console.error(`layer: add them with: npm install --no-save --force ${list}`);
  process.exit(1);
}

function resolvePackage(pkg) {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

rmSync(join(here, 'build'), { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let total = 0;
for (const [name, pkg, file] of sources) {
  const source = join(resolvePackage(pkg), file);
  if (!existsSync(source)) {
    console.error(`layer: ${pkg} has no ${file} binary`);
    process.exit(1);
  }
  copyFileSync(source, join(out, name));
  chmodSync(join(out, name), 0o755);
  const { size } = statSync(source);
  total += size;
  console.log(`layer: bin/${name} from ${pkg} (${(size / 1e6).toFixed(1)} MB)`);
}
if (total > LAMBDA_UNZIPPED_LIMIT - ROOM_FOR_CODE) {
  console.error(`layer: ${(total / 1e6).toFixed(1)} MB unzipped leaves under ${ROOM_FOR_CODE / 1e6} MB of Lambda's 250 MB for the code`);
  process.exit(1);
}
console.log(`layer: ${(total / 1e6).toFixed(1)} MB unzipped for linux ${arch}, in ${join('layers', 'ffmpeg', 'build')}`);
