// Installing Debian packages without asking, for the scripts that need some (the tests'
// prerequisites, the ffmpeg build): apt-get as root, or with sudo that needs no password.
import { spawnSync } from 'node:child_process';

export const onPath = (name) => spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;

/** How apt-get can be run here without a question: [] as root, ['sudo'] with password-less sudo; undefined when it cannot. */
export function aptPrefix() {
  if (!onPath('apt-get')) return undefined;
  if (process.getuid?.() === 0) return [];
  return onPath('sudo') && spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0 ? ['sudo'] : undefined;
}

/** What a person runs to install them by hand. */
export function aptLine(packages) {
  return `sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}'`;
}

/** apt-get update, then install `packages`, through `prefix` (aptPrefix); true when both worked. apt-get's errors go to stderr. */
export function aptInstall(prefix, packages) {
  const [command, ...pre] = [...prefix, 'apt-get'];
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args) => {
    const result = spawnSync(command, [...pre, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
    if (result.status !== 0) process.stderr.write(result.stderr ?? '');
    return result.status === 0;
  };
  return run(['update', '-qq']) && run(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
}
