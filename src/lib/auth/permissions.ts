/**
 * Every permission raiops knows, and the built-in roles (DESIGN.md §7).
 * A command declares one of these as `static permission`; the check happens
 * before any work.
 */
export const PERMISSIONS = {
  'system.manage': 'initialise raiops, migrate the control database, rotate keys',
  'rds.view': 'list and inspect RDS instances and their health',
  'rds.manage': 'add, edit, remove RDS instances and change their state',
  'rds.secrets': 'reveal RDS connection secrets',
  'sync.run': 'run the tenant, routing and ghost-user syncs',
  'sync.view': 'see sync runs and staleness',
  'tenant.view': 'look up tenants',
  'tenant.edit': 'change tenants',
  'tenant.impersonate': 'impersonate a tenant for support',
  'user.view': "look up tenants' users",
  'user.edit': "change tenants' users",
  'user.password-reset': "check and reset tenants' users' passwords",
  'pii.view': "see tenants' users' emails unmasked",
  'audit.view': 'read the audit trail',
  'audit.manage': 'checkpoint the audit trail and receive webhook events',
  'billing.view': 'see plans and billing',
  'billing.edit': 'change plans, billing and payments',
  'reports.view': 'read reports',
  'reports.export': 'export reports',
  'operator.view': 'list operators, tokens and roles',
  'operator.manage': 'manage operators, tokens and roles',
  'jobs.view': 'list and inspect jobs',
  'jobs.manage': 'run, retry and cancel jobs',
  'alerts.view': 'see alert rules, active alerts, their history, silences and subscriptions',
  'alerts.run': 'evaluate the alert rules and send notifications (alerts:run, for cron)',
  'alerts.manage-rules': 'create, edit, enable and disable alert rules',
  'alerts.manage-subscriptions': "manage alert subscriptions, anyone's",
  'alerts.silence': 'silence and acknowledge alerts',
} as const

export type Permission = keyof typeof PERMISSIONS

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[]

export const BUILTIN_ROLES: Record<string, {description: string; permissions: readonly Permission[]}> = {
  system_admin: {description: 'everything', permissions: ALL_PERMISSIONS},
  support_admin: {
    description: 'tenant support: tenants, their users, impersonation, audit',
    permissions: ['tenant.view', 'tenant.edit', 'tenant.impersonate', 'user.view', 'user.edit', 'user.password-reset', 'audit.view', 'rds.view'],
  },
  billing_admin: {
    description: 'billing and reports',
    permissions: ['tenant.view', 'billing.view', 'billing.edit', 'reports.view', 'reports.export'],
  },
  read_only: {
    // Every area's view; unmasked personal data (pii.view) is not an area and is granted on purpose only.
    description: 'every view permission (emails stay masked)',
    permissions: ALL_PERMISSIONS.filter((p) => p.endsWith('.view') && p !== 'pii.view'),
  },
}

export type BuiltinRole = keyof typeof BUILTIN_ROLES
