/** One test case of a JUnit XML report. */
export interface JunitCase {
  classname: string
  name: string
  /** Seconds. */
  time: number
  /** Present when the case failed. */
  failure?: {type: string; message: string; body: string}
  /** Free text shown with the case (status, reasons). */
  output?: string
}

export interface JunitSuite {
  name: string
  timestamp: string
  /** Seconds. */
  time: number
  cases: JunitCase[]
}

/** Characters XML 1.0 does not allow at all (most C0 controls, lone surrogates, U+FFFE/FFFF). */
const INVALID_XML =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** Text made safe for an XML attribute or element: escaped, forbidden characters dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(INVALID_XML, '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;')
}

const seconds = (value: number): string => value.toFixed(3)

/**
 * A JUnit XML report (the dialect Jenkins, GitLab, GitHub Actions reporters and
 * Azure Pipelines read): one `<testsuite>` in `<testsuites>`, one `<testcase>`
 * each, a `<failure>` for each failed case.
 */
export function renderJunit(suite: JunitSuite): string {
  const failures = suite.cases.filter((c) => c.failure).length
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${escapeXml(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="0" time="${seconds(suite.time)}">`,
    `  <testsuite name="${escapeXml(suite.name)}" tests="${suite.cases.length}" failures="${failures}" errors="0" skipped="0" timestamp="${escapeXml(suite.timestamp)}" time="${seconds(suite.time)}">`,
  ]
  for (const testCase of suite.cases) {
    const open = `    <testcase classname="${escapeXml(testCase.classname)}" name="${escapeXml(testCase.name)}" time="${seconds(testCase.time)}"`
    if (!testCase.failure && !testCase.output) {
      lines.push(`${open}/>`)
      continue
    }
    lines.push(`${open}>`)
    if (testCase.failure) {
      const {type, message, body} = testCase.failure
      lines.push(`      <failure type="${escapeXml(type)}" message="${escapeXml(message)}">${escapeXml(body)}</failure>`)
    }
    if (testCase.output) lines.push(`      <system-out>${escapeXml(testCase.output)}</system-out>`)
    lines.push('    </testcase>')
  }
  lines.push('  </testsuite>', '</testsuites>')
  return `${lines.join('\n')}\n`
}
