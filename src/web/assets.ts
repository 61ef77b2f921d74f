// hls.js, as the player pages load it. Read from node_modules where the package is installed (the
// CLI); the Lambda bundles carry its text inline instead (deploy/esbuild-plugins.js replaces this
// module), since a bundle has no node_modules.
import { readFileSync } from 'node:fs';

let script: Buffer | undefined;

export function hlsScript(): Buffer {
  script ??= readFileSync(require.resolve('hls.js/dist/hls.min.js'));
  return script;
}
