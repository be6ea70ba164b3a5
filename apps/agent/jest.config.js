// @kubernetes/client-node 1.x (and some packages under it) ship ES modules only; Jest runs
// CommonJS, so SWC compiles those packages too (only the informer test loads them).
const preset = require('../../jest.preset.js');

const esmPackages = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'jsonpath-plus',
  'rfc4648',
];
const tsTransform = preset.transform['^.+\\.ts$'];

module.exports = {
  ...preset,
  displayName: 'agent',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
  transform: { ...preset.transform, '^.+\\.m?js$': tsTransform },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
};
