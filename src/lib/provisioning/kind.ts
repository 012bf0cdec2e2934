import type {JobKind} from '../jobs/kind.js'
import {parseTenantCreateInput, TENANT_CREATE_KIND, type TenantCreateInput} from './input.js'
import {TENANT_CREATE_STEPS} from './steps.js'

/** `tenant.create`: place → tenant → owner → locations → routing → register → subscription → ghosts → verify → done. */
export const tenantCreateKind: JobKind<TenantCreateInput> = {
  kind: TENANT_CREATE_KIND,
  parseInput: parseTenantCreateInput,
  steps: TENANT_CREATE_STEPS,
  describe(input, outputs) {
    const registered = outputs.register?.tenantMasterId
    const placed = outputs.place?.rdsId
    return {
      tenantName: input.name,
      tenantMasterId: registered === undefined ? null : Number(registered),
      rdsId: placed === undefined ? null : Number(placed),
    }
  },
}
