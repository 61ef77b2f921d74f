/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] },
  // Fixtures are made with ffmpeg, and e2e tests run whole conversions: give them room.
  testTimeout: 120000,
  maxWorkers: 2,
};
