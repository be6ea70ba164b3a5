module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'manifests',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
