// The hub's medium tier: repositories against a real throwaway Postgres, no processes, so it
// needs no build (the e2e project's global setup) and runs in seconds.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'medium',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.spec.ts'],
  testTimeout: 60000,
};
