// Shared Jest settings: SWC compiles TypeScript (with decorator metadata for NestJS), and
// workspace libraries resolve to their sources so tests never need a prior build.
const path = require('node:path');

const root = __dirname;

// @kubernetes/client-node 1.x and some of its dependencies, and the CEL evaluator, ship ES modules only, while Jest runs
// CommonJS here: compile those packages with SWC like our own sources.
const esmPackages = [
  '@kubernetes/client-node',
  'openid-client',
  'oauth4webapi',
  'jose',
  'jsonpath-plus',
  'rfc4648',
  '@marcbachmann/cel-js',
];

const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

module.exports = {
  testEnvironment: 'node',
  transform: { '^.+\\.ts$': swc, '^.+\\.m?js$': swc },
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: {
    '^@muster/(api|placement|k8s|manifests|common|log)$': path.join(root, 'libs/$1/src/index.ts'),
    '^@muster/testbed$': path.join(root, 'infra/testbed/src/index.ts'),
  },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
