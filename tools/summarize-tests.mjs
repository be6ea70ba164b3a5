#!/usr/bin/env node
// Prints the one line CI reads, "N passed, N failed", from Jest's JSON results. A suite that
// could not run at all (a crash before its tests) counts as one failed test.
import { readFileSync } from 'node:fs';

const file = process.argv[2];
let results;
try {
  results = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log(`no test results in ${file}: ${err.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
let passed = results.numPassedTests;
let failed = results.numFailedTests;
for (const suite of results.testResults) {
  const ran = suite.assertionResults.length;
  if (suite.status === 'failed' && ran === 0) {
    failed += 1;
    console.log(`suite failed to run: ${suite.name}\n${suite.message}`);
  }
}
const skipped = results.numPendingTests + results.numTodoTests;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
