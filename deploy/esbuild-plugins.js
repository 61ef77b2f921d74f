'use strict';
// esbuild plugins for the Lambda bundles (serverless.yml: custom.esbuild.plugins). A bundle has no
// node_modules, so the hls.js the hosted player page loads is put into it as text: the module that
// reads it from node_modules (src/web/assets.ts) is replaced by one that returns it.
const { readFileSync } = require('node:fs');

const inlineHlsScript = {
  name: 'inline-hls-script',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/]web[\\/]assets\.ts$/ }, () => {
      const text = readFileSync(require.resolve('hls.js/dist/hls.min.js'), 'utf8');
      return {
        contents: `const script = Buffer.from(${JSON.stringify(text)}, 'utf8');\nexport function hlsScript() { return script; }\n`,
        loader: 'js',
      };
    });
  },
};

module.exports = [inlineHlsScript];
