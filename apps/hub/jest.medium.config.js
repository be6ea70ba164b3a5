// The hub's medium tier: repositories against a real throwaway Postgres, no processes.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'hub-medium',
  rootDir: __dirname,
  testMatch: ['<rootDir>/test/medium/**/*.spec.ts'],
  testTimeout: 60000,
};
