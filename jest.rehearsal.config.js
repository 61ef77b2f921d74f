// npm run test:aws: the AWS rehearsal, on its own (it packages the stack as test/deploy does).
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = { ...base, roots: ['<rootDir>/test/rehearsal'], testPathIgnorePatterns: ['/node_modules/'], maxWorkers: 1 };
