'use strict';
// The composition (src/composition/deployment.ts) for deploy/stack.js: the step table and the
// backends' variables are TypeScript, so they are bundled in memory with esbuild (which the
// framework's serverless-esbuild already brings) and loaded as a module. Nothing is written.
const Module = require('node:module');
const { dirname, join } = require('node:path');

let loaded;

function composition() {
  if (loaded) return loaded;
  const entry = join(__dirname, '..', 'src', 'composition', 'deployment.ts');
  const { outputFiles } = require('esbuild').buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    write: false,
    logLevel: 'silent',
  });
  const module = new Module(entry);
  module.filename = entry;
  module.paths = Module._nodeModulePaths(dirname(entry));
  module._compile(outputFiles[0].text, entry);
  loaded = module.exports;
  return loaded;
}

module.exports = { composition };
