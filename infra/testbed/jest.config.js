const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'testbed',
  rootDir: __dirname,
  testMatch: ['<rootDir>/tests/**/*.spec.ts'],
  // The first run on a machine builds the Go program (minutes); later runs find it cached.
  testTimeout: 600000,
};
