// The hub's medium tier: repositories against a real throwaway Postgres, no processes, so it
// needs no build (the e2e project's global setup) and runs in seconds. The check of the READMEs'
// settings tables against the hub's, the agent's and the MCP server's config schemas runs here too: it reads the
// sources of both apps, which neither app's own project may.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'medium',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.spec.ts'],
  testTimeout: 60000,
};
