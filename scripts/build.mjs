// Bundles the CLI into dist/cli.js. Runs on `npm install`. Dependencies stay in node_modules, but
// commander is in the bundle: every command parses its arguments with it, and one file starts
// faster than its own few. Its `child_process` (for executable subcommands, which we do not use)
// is loaded on first use, not at start: it pulls in `net` and streams, a tenth of `--help`'s time.
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const EAGER_CHILD_PROCESS = "const childProcess = require('node:child_process');";

/** commander's eager `require('node:child_process')` made lazy; the build fails if the line moves. */
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup(builder) {
    builder.onLoad({ filter: /commander[\\/]lib[\\/]command\.js$/ }, ({ path }) => {
      const source = readFileSync(path, 'utf8');
      if (!source.includes(EAGER_CHILD_PROCESS)) throw new Error(`${path} no longer has: ${EAGER_CHILD_PROCESS}`);
      const lazy = "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };";
      return { contents: source.replace(EAGER_CHILD_PROCESS, lazy), loader: 'js' };
    });
  },
};

const { dependencies } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: ['cli/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  external: Object.keys(dependencies).filter((name) => name !== 'commander'),
  plugins: [lazyChildProcess],
  // Less to read and parse at every start; names are kept, and the source map maps stack traces.
  minifyWhitespace: true,
  sourcemap: 'linked',
  logLevel: 'warning',
});
