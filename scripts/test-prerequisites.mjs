#!/usr/bin/env node
// What the tests need beyond npm's packages, checked before any test runs (`npm test`,
// `npm run test:browser` and `.ci/run` call this; nothing else installs it):
// - the ffmpeg the product deploys: `npm run build:ffmpeg` (Debian 12's source, built statically), run
//   when its build is missing, so every test runs the ffmpeg the layer ships;
// - Debian's ffmpeg (ffprobe 5.1), VLC and GStreamer: the independent players that judge the output
//   (the static ffprobe from npm crashes on MPEG-TS), unzip for the packages, chromium for the pages;
// - the Node.js of the deployed runtime (serverless.yml provider.runtime, nodejs24.x → Node 24) for
//   the AWS rehearsal, from the npm registry's node-<platform>-<arch> package, and osls (the
//   maintained fork of Serverless Framework v3), whose template the deploy test compares with v3's;
//   each kept outside the project's dependencies (node_modules/.cache/lambda-hls-*/: osls would
//   take the `serverless` command's name), so `npm install` leaves them be.
// What is missing is installed where that can be done without asking (apt-get as root, or with
// sudo that needs no password); otherwise, or with LAMBDA_HLS_TEST_INSTALL=no, it stops with one line
// naming what is missing and the command that installs it. Exit 0 when everything is there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aptInstall, aptLine, aptPrefix, onPath } from './apt.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');

const executable = (path) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** A binary the tests run: its path (an E2E_* variable may point elsewhere) and the Debian packages that bring it. */
const BINARIES = [
  { path: process.env.E2E_FFPROBE ?? '/usr/bin/ffprobe', variable: 'E2E_FFPROBE', packages: ['ffmpeg'] },
  { path: process.env.E2E_CVLC ?? '/usr/bin/cvlc', variable: 'E2E_CVLC', packages: ['vlc-bin', 'vlc-plugin-base'] },
  { path: process.env.E2E_GST_LAUNCH ?? '/usr/bin/gst-launch-1.0', variable: 'E2E_GST_LAUNCH', packages: ['gstreamer1.0-tools'] },
  { path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', variable: 'CHROMIUM_PATH', packages: ['chromium'] },
];
// HLS (hlsdemux2, in -bad), HTTP (souphttpsrc, in -good), MPEG-TS and H.264 decoding (-bad, -libav).
const GST_PLUGINS = ['hlsdemux2', 'souphttpsrc', 'tsdemux', 'avdec_h264'];
const GST_PACKAGES = ['gstreamer1.0-plugins-base', 'gstreamer1.0-plugins-good', 'gstreamer1.0-plugins-bad', 'gstreamer1.0-libav'];

/** The Debian packages missing, and what cannot be fixed by installing one (an E2E_* path that is not there). */
function missingPackages() {
  const packages = new Set();
  const wrong = [];
  const absent = [];
  for (const binary of BINARIES) {
    if (executable(binary.path)) continue;
    if (process.env[binary.variable]) wrong.push(`${binary.variable}=${binary.path} is not an executable`);
    else {
      absent.push(binary.path);
      for (const name of binary.packages) packages.add(name);
    }
  }
  if (!onPath('unzip')) {
    absent.push('unzip');
    packages.add('unzip');
  }
  const inspect = onPath('gst-inspect-1.0');
  const plugins = inspect
    ? GST_PLUGINS.filter((plugin) => spawnSync('gst-inspect-1.0', [plugin], { stdio: 'ignore' }).status !== 0)
    : GST_PLUGINS;
  if (plugins.length > 0) {
    absent.push(`GStreamer's ${plugins.join(', ')}`);
    for (const name of GST_PACKAGES) packages.add(name);
    if (!inspect) packages.add('gstreamer1.0-tools');
  }
  return { packages: [...packages], wrong, absent };
}

/** The deployed functions' Node.js major, from serverless.yml (`runtime: nodejs24.x`). */
export function deployedNodeMajor(root = ROOT) {
  const match = /^\s*runtime:\s*nodejs(\d+)\.x\s*$/m.exec(readFileSync(join(root, 'serverless.yml'), 'utf8'));
  if (!match) throw new Error('serverless.yml: no provider runtime nodejsNN.x');
  return Number(match[1]);
}

/** Where the rehearsal's Node.js is installed (a prefix of its own, outside package.json's dependencies). */
export function runtimeNodePrefix(root = ROOT) {
  return join(root, 'node_modules', '.cache', 'lambda-hls-runtime');
}

export function runtimeNodePackage() {
  return `node-${process.platform}-${process.arch}`;
}

/** The rehearsal's node binary, whether or not it is there. */
export function runtimeNodePath(root = ROOT) {
  return join(runtimeNodePrefix(root), 'node_modules', runtimeNodePackage(), 'bin', 'node');
}

function nodeMajorOf(path) {
  const run = spawnSync(path, ['-p', 'process.versions.node.split(".")[0]'], { encoding: 'utf8' });
  return run.status === 0 ? Number(run.stdout.trim()) : undefined;
}

function canInstallWithApt() {
  return process.env.LAMBDA_HLS_TEST_INSTALL === 'no' ? undefined : aptPrefix();
}

/** osls 3: the maintained drop-in fork of Serverless Framework v3 (osls 4 refuses frameworkVersion '3'). */
export const OSLS_VERSION = '3.77.1';

export function oslsPrefix(root = ROOT) {
  return join(root, 'node_modules', '.cache', 'lambda-hls-osls');
}

/** osls's command, whether or not it is there. */
export function oslsPath(root = ROOT) {
  return join(oslsPrefix(root), 'node_modules', 'osls', 'bin', 'serverless.js');
}

function installedVersion(packageJson) {
  try {
    return JSON.parse(readFileSync(packageJson, 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** npm install of one package into a prefix of its own (no package.json there, no lock). */
function npmInstall(prefix, spec) {
  const args = ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', spec];
  const result = spawnSync('npm', args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (result.status !== 0) process.stderr.write(result.stderr);
  return result.status === 0;
}

function stop(line) {
  console.error(`test prerequisites: ${line}`);
  process.exit(1);
}

function main() {
  const say = (line) => quiet || console.error(`test prerequisites: ${line}`);
  const { packages, wrong } = missingPackages();
  if (wrong.length > 0) stop(wrong.join('; '));
  if (packages.length > 0) {
    const sudo = canInstallWithApt();
    if (!sudo) stop(`missing Debian packages ${packages.join(', ')}; install them with: ${aptLine(packages)}`);
    say(`installing ${packages.join(' ')} (apt-get)`);
    if (!aptInstall(sudo, packages)) stop(`apt-get could not install ${packages.join(' ')}; try: ${aptLine(packages)}`);
    const after = missingPackages();
    if (after.packages.length > 0)
      stop(
        `apt-get installed ${packages.join(' ')}, but ${after.absent.join(', ')} still cannot be run (set E2E_FFPROBE, E2E_CVLC, E2E_GST_LAUNCH or CHROMIUM_PATH to where yours are)`,
      );
  }

  const major = deployedNodeMajor();
  const tools = [
    {
      what: `Node ${major} for the AWS rehearsal, the stack's nodejs${major}.x`,
      prefix: runtimeNodePrefix(),
      spec: `${runtimeNodePackage()}@${major}`,
      ready: () => nodeMajorOf(runtimeNodePath()) === major,
    },
    {
      what: `osls ${OSLS_VERSION} for the deploy test, the maintained fork of Serverless v3`,
      prefix: oslsPrefix(),
      spec: `osls@${OSLS_VERSION}`,
      ready: () => installedVersion(join(oslsPrefix(), 'node_modules', 'osls', 'package.json')) === OSLS_VERSION,
    },
  ];
  for (const tool of tools) {
    if (tool.ready()) continue;
    const byHand = `npm install --prefix ${tool.prefix.replace(`${ROOT}/`, '')} --no-save --no-package-lock ${tool.spec}`;
    if (process.env.LAMBDA_HLS_TEST_INSTALL === 'no') stop(`missing ${tool.what}; install it with: ${byHand}`);
    say(`installing ${tool.what} (npm ${tool.spec})`);
    if (!npmInstall(tool.prefix, tool.spec) || !tool.ready()) stop(`could not install ${tool.what}; try: ${byHand}`);
  }
  // The ffmpeg the product runs locally and in the layer: Debian 12's maintained one, built statically (about 4 minutes, once).
  if (!executable(join(ROOT, 'layers', 'ffmpeg', 'source', 'bin', 'ffprobe'))) {
    if (process.env.LAMBDA_HLS_TEST_INSTALL === 'no') stop('missing the source build of ffmpeg; build it with: npm run build:ffmpeg');
    say("building ffmpeg from Debian 12's source (npm run build:ffmpeg, about 4 minutes on 2 cores)");
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-ffmpeg.mjs')], {
      stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
    });
    if (built.status !== 0) stop('could not build ffmpeg (see above); the tests judge the ffmpeg that is deployed');
  }
  say(
    `ready: Debian's ffprobe, VLC, GStreamer, chromium and unzip; Node ${major} for the rehearsal; osls ${OSLS_VERSION}; ffmpeg built from Debian 12's source`,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
