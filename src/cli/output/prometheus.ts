/** One metric family of the Prometheus text exposition format (version 0.0.4). */
export interface MetricFamily {
  name: string
  help: string
  type: 'gauge' | 'counter'
  samples: Array<{labels: Record<string, string>; value: number}>
}

/** A label value escaped as the format requires: backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')
}

function escapeHelp(text: string): string {
  return text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

/**
 * Renders metric families as the text exposition format read by Prometheus and
 * by node_exporter's textfile collector: HELP and TYPE once per family, then its samples.
 */
export function renderPrometheus(families: readonly MetricFamily[]): string {
  const lines: string[] = []
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`)
    for (const sample of family.samples) {
      const labels = Object.entries(sample.labels)
        .map(([key, value]) => `${key}="${escapeLabelValue(value)}"`)
        .join(',')
      lines.push(`${family.name}${labels ? `{${labels}}` : ''} ${formatValue(sample.value)}`)
    }
  }
  return `${lines.join('\n')}\n`
}
