#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

// V8's compiled code for the bundle and commander is kept between runs (Node ≥ 22.1; in the
// system's temporary folder): start-up compiles nothing twice.
require('node:module').enableCompileCache?.();

const cli = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lambda-hls: the CLI is not built yet; run `npm install` (or `npm run build`) in the project folder\n');
  process.exit(2);
}
// The AWS SDK warns on every run that its releases after January 2027 need Node 22; this one runs
// on Node 20 (package.json engines), and the README says so once instead.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
}
// `--version` alone needs nothing else (commander would print the same line).
const args = process.argv.slice(2);
if (args.length === 1 && (args[0] === '--version' || args[0] === '-V')) {
  process.stdout.write(`${require('../package.json').version}\n`);
} else {
  require(cli).main(process.argv);
}
