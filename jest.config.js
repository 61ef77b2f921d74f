/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The browser test needs chromium and plays in real time: npm run test:browser. The rehearsal runs
  // `serverless package` as the deploy test does, and two at once share serverless-esbuild's .esbuild
  // folder: npm run test:aws, after these.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/browser/', '<rootDir>/test/rehearsal/'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  // Fixtures are made with ffmpeg, and e2e tests run whole conversions: give them room.
  testTimeout: 120000,
  maxWorkers: 2,
};
