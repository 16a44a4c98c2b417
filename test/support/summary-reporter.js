// Prints one plain closing line, `jest: N passed, N failed, N skipped`, that CI and people can read
// without knowing Jest's own summary format, then one line per reason tests were skipped for (tests
// skipped for a missing tool carry `SKIPPED: <reason>` in their name, see test/support/test-tools.ts).
const SKIP_MARK = 'SKIPPED: ';

export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const suitesFailed = results.numFailedTestSuites > 0 && results.numFailedTests === 0 ? results.numFailedTestSuites : 0;
    const reasons = new Map();
    for (const file of results.testResults) {
      for (const test of file.testResults) {
        if (test.status !== 'pending') continue;
        const title = [...test.ancestorTitles, test.title].find((t) => t.includes(SKIP_MARK));
        const reason = title ? title.slice(title.indexOf(SKIP_MARK) + SKIP_MARK.length) : 'marked skip in the test file';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
    let out = `\njest: ${results.numPassedTests} passed, ${results.numFailedTests + suitesFailed} failed, ${skipped} skipped\n`;
    for (const [reason, count] of reasons) out += `jest: SKIPPED ${count}: ${reason}\n`;
    process.stdout.write(out);
  }
}
