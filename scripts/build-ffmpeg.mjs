// `npm run build:ffmpeg`: a current, security-maintained ffmpeg and ffprobe, built statically from
// Debian 12's own source package (the version its security team maintains, 5.1.x) with Debian's
// static codec libraries, into layers/ffmpeg/source/bin. Statically linked, the binaries run on
// any x86_64 Linux: here, for the local default, and in Lambda's Amazon Linux 2023, for the layer.
// Both use them in place of npm's 2018 build whenever they are there (src/adapters/ffmpeg,
// layers/ffmpeg/build.mjs).
//
// The source is trusted as apt trusts it: the suite's InRelease is verified with Debian's archive
// keyring (gpgv), the Sources index against the hash it signs, the tarball against the index.
// Needs a Debian 12 (or derived) x86_64 machine with the build tools and the -dev packages below;
// about 4 minutes on 2 cores. A build of the same version with the same configuration is kept.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptInstall, aptLine, aptPrefix } from './apt.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'layers', 'ffmpeg', 'source');
const MIRROR = process.env.LAMBDA_HLS_DEBIAN_MIRROR ?? 'http://deb.debian.org';
const SUITE = { archive: 'debian-security', suite: 'bookworm-security' };
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
const LIBDIR = '/usr/lib/x86_64-linux-gnu';

/** Debian packages the build needs, and a file of each that shows it is installed. */
const NEEDS = [
  ['build-essential', '/usr/bin/gcc'],
  ['nasm', '/usr/bin/nasm'],
  ['pkg-config', '/usr/bin/pkg-config'],
  ['xz-utils', '/usr/bin/xz'],
  ['gpgv', '/usr/bin/gpgv'],
  ['debian-archive-keyring', KEYRING],
  // What the product encodes: H.264 (libx264) and AAC (ffmpeg's own).
  ['libx264-dev', `${LIBDIR}/libx264.a`],
  // HDR to SDR (zscale) for transcodes of HLG and PQ video.
  ['libzimg-dev', `${LIBDIR}/libzimg.a`],
  // AV1 uploads (ffmpeg 5.1 has no software AV1 decoder of its own).
  ['libaom-dev', `${LIBDIR}/libaom.a`],
  // Compressed moov boxes, PNG pictures (and the tests' PNG input).
  ['zlib1g-dev', `${LIBDIR}/libz.a`],
  // What the tests make their inputs with: HEVC, VP9, MP3, Opus.
  ['libx265-dev', `${LIBDIR}/libx265.a`],
  ['libnuma-dev', `${LIBDIR}/libnuma.a`],
  ['libvpx-dev', `${LIBDIR}/libvpx.a`],
  ['libmp3lame-dev', `${LIBDIR}/libmp3lame.a`],
  ['libopus-dev', `${LIBDIR}/libopus.a`],
];

const CONFIGURE = [
  '--enable-gpl',
  '--enable-version3',
  '--enable-static',
  '--disable-shared',
  // Nothing found by chance on the build machine: exactly the libraries below.
  '--disable-autodetect',
  '--enable-zlib',
  '--enable-libx264',
  '--enable-libx265',
  '--enable-libzimg',
  '--enable-libaom',
  '--enable-libvpx',
  '--enable-libmp3lame',
  '--enable-libopus',
  '--pkg-config-flags=--static',
  '--extra-ldflags=-static',
  '--extra-libs=-lpthread -lm -lstdc++',
  '--disable-doc',
  '--disable-ffplay',
  '--disable-debug',
];

function fail(message) {
  console.error(`build:ffmpeg: ${message}`);
  process.exit(1);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

async function download(path) {
  const url = `${MIRROR}/${path}`;
  let response;
  try {
    response = await fetch(url);
  } catch (error) {
    fail(`cannot fetch ${url}: ${error.cause?.message ?? error.message}`);
  }
  if (!response.ok) fail(`${url} answered ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** The SHA256 of one file, from a signed Release file's or a Sources stanza's checksum lines. */
function checksumOf(text, section, name) {
  const block = text.split(`\n${section}:\n`)[1]?.split(/\n(?=\S)/)[0] ?? '';
  const line = block.split('\n').find((l) => l.trim().split(/\s+/)[2] === name);
  return line?.trim().split(/\s+/)[0];
}

if (process.platform !== 'linux' || process.arch !== 'x64') fail('builds on x86_64 Linux only (the layer is x86_64)');
const missing = () => NEEDS.filter(([, file]) => !existsSync(file)).map(([pkg]) => pkg);
if (missing().length > 0 && aptPrefix()) {
  // Installed without asking, as the tests' prerequisites are (scripts/apt.mjs).
  console.log(`build:ffmpeg: apt-get install ${missing().join(' ')}`);
  aptInstall(aptPrefix(), missing());
}
if (missing().length > 0) fail(`missing Debian packages; install them with: ${aptLine(missing())}`);

// 1. The suite's index, signed by Debian.
const scratch = mkdtempSync(join(tmpdir(), 'lambda-hls-ffmpeg-'));
try {
  const release = await download(`${SUITE.archive}/dists/${SUITE.suite}/InRelease`);
  writeFileSync(join(scratch, 'InRelease'), release);
  const verified = spawnSync('gpgv', ['--keyring', KEYRING, '--output', join(scratch, 'Release'), join(scratch, 'InRelease')], {
    encoding: 'utf8',
  });
  if (verified.status !== 0) fail(`${SUITE.suite}'s InRelease does not verify with ${KEYRING}:\n${verified.stderr}`);
  const signed = readFileSync(join(scratch, 'Release'), 'utf8');
  const sourcesHash = checksumOf(signed, 'SHA256', 'main/source/Sources.xz');
  if (!sourcesHash) fail(`${SUITE.suite}'s Release lists no main/source/Sources.xz`);
  const sourcesXz = await download(`${SUITE.archive}/dists/${SUITE.suite}/main/source/Sources.xz`);
  if (sha256(sourcesXz) !== sourcesHash) fail('the Sources index does not match the hash its signed Release gives');
  const sources = execFileSync('xz', ['-dc'], { input: sourcesXz, maxBuffer: 1 << 30 }).toString('utf8');

  // 2. ffmpeg's newest source package in it.
  const stanzas = sources.split('\n\n').filter((s) => s.startsWith('Package: ffmpeg\n'));
  if (stanzas.length === 0) fail(`${SUITE.suite} has no ffmpeg source package`);
  const field = (stanza, name) => new RegExp(`^${name}: (.+)$`, 'm').exec(stanza)?.[1];
  const newest = stanzas.sort((a, b) =>
    spawnSync('dpkg', ['--compare-versions', field(a, 'Version'), 'gt', field(b, 'Version')]).status === 0 ? -1 : 1,
  )[0];
  const version = field(newest, 'Version');
  const directory = field(newest, 'Directory');
  const tarball = /^ [0-9a-f]{64} \d+ (ffmpeg_[^\s]+\.orig\.tar\.xz)$/m.exec(newest)?.[1];
  const tarballHash = tarball && checksumOf(newest, 'Checksums-Sha256', tarball);
  if (!version || !directory || !tarball || !tarballHash) fail(`cannot read the ffmpeg stanza of ${SUITE.suite}'s Sources`);

  const recipe = { version, suite: SUITE.suite, tarball, sha256: tarballHash, configure: CONFIGURE };
  const recorded = join(out, 'build.json');
  if (existsSync(recorded) && existsSync(join(out, 'bin', 'ffmpeg')) && existsSync(join(out, 'bin', 'ffprobe'))) {
    const before = JSON.parse(readFileSync(recorded, 'utf8'));
    if (JSON.stringify({ ...before, builtAt: undefined }) === JSON.stringify({ ...recipe, builtAt: undefined })) {
      console.log(`build:ffmpeg: ffmpeg ${version} (${SUITE.suite}) is built already, in layers/ffmpeg/source`);
      process.exit(0);
    }
  }

  // 3. The source, checked, then built.
  console.log(`build:ffmpeg: ffmpeg ${version} from ${SUITE.suite} (${tarball}, sha256 ${tarballHash.slice(0, 12)}…)`);
  const source = await download(`${SUITE.archive}/${directory}/${tarball}`);
  if (sha256(source) !== tarballHash) fail(`${tarball} does not match the hash in the signed Sources index`);
  writeFileSync(join(scratch, tarball), source);
  execFileSync('tar', ['-xf', tarball], { cwd: scratch });
  const tree = join(scratch, /^ffmpeg_(.+)\.orig\.tar\.xz$/.exec(tarball)[1].replace(/^/, 'ffmpeg-'));
  if (!existsSync(tree)) fail(`${tarball} did not unpack into ${tree}`);
  // Debian's x265.pc names the shared libgcc_s, which no static link can take.
  const pc = join(scratch, 'pkgconfig');
  mkdirSync(pc);
  writeFileSync(join(pc, 'x265.pc'), readFileSync(join(LIBDIR, 'pkgconfig', 'x265.pc'), 'utf8').replace(/-lgcc_s/g, ''));
  const env = { ...process.env, PKG_CONFIG_PATH: pc };
  const run = (command, args, what) => {
    const started = Date.now();
    const result = spawnSync(command, args, { cwd: tree, env, encoding: 'utf8', maxBuffer: 1 << 30 });
    if (result.status !== 0) {
      const log = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-30).join('\n');
      fail(`${what} failed:\n${log}${what === 'configure' ? `\n(see ${join(tree, 'ffbuild', 'config.log')})` : ''}`);
    }
    console.log(`build:ffmpeg: ${what} in ${Math.round((Date.now() - started) / 1000)} s`);
  };
  run('./configure', CONFIGURE, 'configure');
  run('make', [`-j${availableParallelism()}`, 'ffmpeg', 'ffprobe'], 'make');

  // 4. Only what runs: checked to be static and to name its version.
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, 'bin'), { recursive: true });
  for (const name of ['ffmpeg', 'ffprobe']) {
    copyFileSync(join(tree, name), join(out, 'bin', name));
    const said = execFileSync(join(out, 'bin', name), ['-version'], { encoding: 'utf8' }).split('\n')[0];
    const linked = spawnSync('ldd', [join(out, 'bin', name)], { encoding: 'utf8' });
    if (!/not a dynamic executable|statically linked/.test(`${linked.stdout}${linked.stderr}`)) fail(`${name} came out dynamically linked`);
    console.log(`build:ffmpeg: layers/ffmpeg/source/bin/${name}: ${said}`);
  }
  writeFileSync(recorded, `${JSON.stringify({ ...recipe, builtAt: new Date().toISOString() }, null, 2)}\n`);
  console.log('build:ffmpeg: the local default and the layer use these from now on (FFMPEG_PATH and LAMBDA_HLS_LAYER_FFMPEG still win)');
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
