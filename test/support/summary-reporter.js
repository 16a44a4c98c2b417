// Prints one plain closing line, `jest: N passed, N failed, N skipped`, that CI and people can read
// without knowing Jest's own summary format.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const suitesFailed = results.numFailedTestSuites > 0 && results.numFailedTests === 0 ? results.numFailedTestSuites : 0;
    process.stdout.write(`\njest: ${results.numPassedTests} passed, ${results.numFailedTests + suitesFailed} failed, ${skipped} skipped\n`);
  }
}
