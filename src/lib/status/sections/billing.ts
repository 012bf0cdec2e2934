import {NEVER_RUN, type StatusSection} from '../types.js'

/** Billing alerts (overdue payments, failed charges): none are raised yet. */
export const billingSection: StatusSection = {
  key: 'billing',
  title: 'Billing alerts',
  async collect() {
    return {...NEVER_RUN, data: {alerts: null}}
  },
}
