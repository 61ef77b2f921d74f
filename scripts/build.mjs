// Bundles the CLI into dist/cli.js (dependencies stay in node_modules). Runs on `npm install`.
import { build } from 'esbuild';

await build({
  entryPoints: ['local/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
});
