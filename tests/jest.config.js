module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'e2e',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.spec.ts'],
  // The medium tier is its own project (tests/medium/jest.config.js).
  testPathIgnorePatterns: ['/node_modules/', '/dist/', '<rootDir>/medium/'],
  globalSetup: '<rootDir>/support/global-setup.js',
  testTimeout: 120000,
};
