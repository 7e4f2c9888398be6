/** Tests run against a real database (PostgreSQL via DATABASE_URL, or embedded PGlite), one file at a time. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  setupFiles: ['reflect-metadata'],
  // Checks Node, the build, the vendored schemas and DATABASE_URL before any test runs (clear message when missing).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  testTimeout: 120000,
  maxWorkers: 1,
  // A test that leaves a socket or timer behind must not hang CI after the run has reported (its results stand).
  forceExit: true,
};
