// Assembles the ffmpeg layer (bin/ffmpeg, bin/ffprobe → /opt/bin in Lambda) for the architecture
// the functions run on (x86_64 by default, as in serverless.yml; `--arch arm64` for Graviton), from,
// for each binary, the first of:
// 1. a static build given by path, LAMBDA_HLS_LAYER_FFMPEG=<path> (and LAMBDA_HLS_LAYER_FFPROBE);
// 2. the build of `npm run build:ffmpeg` in ./source (x86_64): Debian 12's security-maintained
//    ffmpeg, built statically from its source package (scripts/build-ffmpeg.mjs);
// 3. the static binaries shipped in npm packages: a 2018 build (git N-47683), which decodes every
//    untrusted upload, so using it is said as a warning.
// A binary of 1 or 2 is checked before it is used: it runs here, says it is ffmpeg (ffprobe), is
// statically linked (Lambda's Amazon Linux has none of another system's libraries) and was built
// in MIN_YEAR or later. Lambda allows 250 MB unzipped for a function and its layers together; the
// script fails if the layer alone leaves too little room. ORIGIN (in the layer: /opt/ORIGIN) says
// which each binary came from.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const here = dirname(fileURLToPath(import.meta.url));
const outFlag = process.argv.indexOf('--out');
const buildDir = outFlag > 0 ? process.argv[outFlag + 1] : join(here, 'build');
const out = join(buildDir, 'bin');
/** The oldest build year a given binary may have: older ffmpeg decodes with known holes. */
const MIN_YEAR = 2023;
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
const given = { ffmpeg: process.env.LAMBDA_HLS_LAYER_FFMPEG, ffprobe: process.env.LAMBDA_HLS_LAYER_FFPROBE };
// Where `npm run build:ffmpeg` put its build (--source <dir> for another).
const sourceFlag = process.argv.indexOf('--source');
const sourceBuild = join(sourceFlag > 0 ? process.argv[sourceFlag + 1] : join(here, 'source'), 'bin');
const origins = {};
for (const name of ['ffmpeg', 'ffprobe']) {
  if (given[name]) origins[name] = 'given';
  else if (arch === 'x86_64' && existsSync(join(sourceBuild, name))) origins[name] = 'source';
  else origins[name] = 'npm';
}
const sources = [
  ['ffmpeg', `@ffmpeg-installer/linux-${npmArch}`, 'ffmpeg'],
  ['ffprobe', `@ffprobe-installer/linux-${npmArch}`, 'ffprobe'],
].filter(([name]) => origins[name] === 'npm');
for (const name of ['ffmpeg', 'ffprobe']) {
  if (origins[name] === 'given') checkBinary(name, given[name], `(LAMBDA_HLS_LAYER_${name.toUpperCase()})`);
  if (origins[name] === 'source') checkBinary(name, join(sourceBuild, name), '(npm run build:ffmpeg)');
}
for (const [name] of sources.filter(([, pkg]) => pkg)) {
  console.warn(
    `layer: warning: bin/${name} is npm's 2018 build, which decodes every upload with holes fixed since; ` +
      "npm run build:ffmpeg builds Debian 12's maintained one (x86_64 Linux), which the layer then takes",
  );
}
const missing = sources.filter(([, pkg]) => pkg && !resolvePackage(pkg));
if (missing.length > 0) {
  const list = missing.map(([, pkg]) => pkg).join(' ');
  console.error(`layer: ${list} not installed (npm installs the binaries of the machine it runs on).`);
  console.error(`layer: add them with: npm install --no-save --force ${list}`);
  process.exit(1);
}

/** Refuses a binary that would not run in Lambda or is too old, saying which and why. */
function checkBinary(name, path, origin) {
  const refuse = (why) => {
    console.error(`layer: ${path} ${origin} ${why}`);
    process.exit(1);
  };
  if (!existsSync(path)) refuse('does not exist');
  const version = spawnSync(path, ['-version'], { encoding: 'utf8' });
  if (version.status !== 0)
    refuse(`does not run here (${version.error?.message ?? version.stderr.trim().split('\n').pop()}): its version cannot be checked`);
  const first = version.stdout.split('\n')[0] ?? '';
  if (!first.startsWith(`${name} version `)) refuse(`is not ${name}: it says "${first}"`);
  const linked = spawnSync('ldd', [path], { encoding: 'utf8' });
  const text = `${linked.stdout}${linked.stderr}`;
  if (!/not a dynamic executable|statically linked/.test(text)) {
    refuse("is linked against this system's shared libraries, which Lambda's Amazon Linux does not have: give a static build");
  }
  const year = Number(/Copyright \(c\) \d{4}-(\d{4})/.exec(version.stdout)?.[1] ?? 0);
  if (year < MIN_YEAR) refuse(`was built in ${year || 'an unknown year'} ("${first}"): give one built in ${MIN_YEAR} or later`);
  sources.push([name, undefined, path]);
  console.log(`layer: ${name} ${origin}: ${first} (static, ${year})`);
}

function resolvePackage(pkg) {
  try {
    return dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    return undefined;
  }
}

rmSync(buildDir, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let total = 0;
for (const [name, pkg, file] of sources) {
  const source = pkg ? join(resolvePackage(pkg), file) : file;
  if (!existsSync(source)) {
    console.error(`layer: ${pkg} has no ${file} binary`);
    process.exit(1);
  }
  copyFileSync(source, join(out, name));
  chmodSync(join(out, name), 0o755);
  const { size } = statSync(source);
  total += size;
  console.log(`layer: bin/${name} from ${pkg ?? source} (${(size / 1e6).toFixed(1)} MB)`);
}
if (total > LAMBDA_UNZIPPED_LIMIT - ROOM_FOR_CODE) {
  console.error(`layer: ${(total / 1e6).toFixed(1)} MB unzipped leaves under ${ROOM_FOR_CODE / 1e6} MB of Lambda's 250 MB for the code`);
  process.exit(1);
}
writeFileSync(join(buildDir, 'ORIGIN'), `${JSON.stringify(origins)}\n`);
console.log(
  `layer: ${(total / 1e6).toFixed(1)} MB unzipped for linux ${arch}, in ${outFlag > 0 ? buildDir : join('layers', 'ffmpeg', 'build')}`,
);
