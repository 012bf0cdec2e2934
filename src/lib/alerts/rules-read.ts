import type {Knex} from 'knex'

import type {AlertRuleRow} from '../db/tables.js'
import {toBool, toIsoRequired} from '../db/values.js'
import type {AlertRule, Labels} from './types.js'

/**
 * A stored rule as the engine reads it. JSON that does not parse (a row edited
 * by hand) becomes `{}` here: the kind's schema then says what is wrong, as an
 * evaluation error of that rule, never a crashed run.
 */
export function ruleFromRow(row: AlertRuleRow): AlertRule {
  return {
    id: Number(row.id),
    name: row.name,
    kind: row.kind,
    params: parseObject(row.params) as Record<string, unknown>,
    forMs: Number(row.for_ms),
    keepFiringForMs: Number(row.keep_firing_for_ms),
    severity: row.severity,
    labels: stringValues(parseObject(row.labels)),
    noData: row.no_data,
    onError: row.on_error,
    description: row.description,
    enabled: toBool(row.enabled),
    builtin: toBool(row.builtin),
    createdBy: row.created_by,
    createdAt: toIsoRequired(row.created_at),
    updatedAt: toIsoRequired(row.updated_at),
  }
}

/** Every enabled rule, by id. One query. */
export async function loadEnabledRules(db: Knex): Promise<AlertRule[]> {
  const rows = await db('alert_rules').where({enabled: true}).orderBy('id')
  return rows.map(ruleFromRow)
}

function parseObject(text: string | null): Record<string, unknown> {
  if (text === null) return {}
  try {
    const value: unknown = JSON.parse(text)
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}

function stringValues(object: Record<string, unknown>): Labels {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(object)) if (typeof value === 'string') out[name] = value
  return out
}
