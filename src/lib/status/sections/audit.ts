import {NEVER_RUN, type StatusSection} from '../types.js'

/** The audit chain: not verified by the overview yet. */
export const auditSection: StatusSection = {
  key: 'audit',
  title: 'Audit chain',
  async collect() {
    return {...NEVER_RUN, data: {intact: null}}
  },
}
