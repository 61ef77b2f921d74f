// npm run test:browser: the player page in Debian's chromium (playwright-core, no browser download).
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, roots: ['<rootDir>/test/browser'], testPathIgnorePatterns: [], maxWorkers: 1 };
