#!/usr/bin/env node
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'cli.js');
if (!existsSync(cli)) {
  process.stderr.write('lambda-hls: the CLI is not built yet; run `npm install` (or `npm run build`) in the project folder\n');
  process.exit(2);
}
require(cli).main(process.argv);
