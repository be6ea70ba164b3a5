// Every test project of the workspace, run by one Jest (see tools/test-all.sh).
module.exports = {
  // Global in a multi-project run (a project's own testTimeout is ignored there): end-to-end
  // suites start processes and clusters. Suites that need longer set it themselves.
  testTimeout: 180000,
  projects: [
    '<rootDir>/libs/common/jest.config.js',
    '<rootDir>/libs/log/jest.config.js',
    '<rootDir>/libs/placement/jest.config.js',
    '<rootDir>/libs/k8s/jest.config.js',
    '<rootDir>/libs/manifests/jest.config.js',
    '<rootDir>/libs/api/jest.config.js',
    '<rootDir>/apps/hub/jest.config.js',
    '<rootDir>/tests/medium/jest.config.js',
    '<rootDir>/apps/agent/jest.config.js',
    '<rootDir>/apps/cli/jest.config.js',
    '<rootDir>/apps/mcp/jest.config.js',
    '<rootDir>/infra/testbed/jest.config.js',
    '<rootDir>/tests/jest.config.js',
  ],
};
