import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {RaiopsError} from '../../src/lib/errors/index.js'
import {getTenant} from '../../src/lib/tenant/reference.js'
import {searchText} from '../../src/lib/text/search.js'
import {CONTROL_ENGINES, createControlDb, type TestControlDb} from '../support/control-db.js'

describe.each(CONTROL_ENGINES)('a tenant named by its name on a %s control database', (engine) => {
  let control: TestControlDb
  const idOf = new Map<number, number>()

  beforeAll(async () => {
    control = await createControlDb(engine)
    const now = new Date()
    const db = control.db
    await db('rds_instances').insert({name: 'eu-1', engine: 'sqlite', rai_database: '/tmp/rai-eu-1.sqlite', created_at: now, updated_at: now})
    const rds = Number((await db('rds_instances').where({name: 'eu-1'}).first('id'))!.id)
    const rows: Array<[number, string, string | null]> = [
      [1, 'ÉCOLE Bakery', 'Ana Silva'],
      [2, 'Øresund Freight', null],
      [3, 'Harbor Bakery', null],
      [4, 'harbor bakery', null],
      // An empty name (a row that broke the contract) is named by no text, not even its contact's name.
      [5, '', 'Lonely Contact'],
      [6, 'Solo Café', null],
      [7, 'Studio:54', null],
      [8, '1999', null],
      [9, 'eu-1:77', null],
    ]
    for (const [remote, name, contact] of rows) {
      await db('tenant_master').insert({
        rds_instance_id: rds,
        remote_tenant_id: remote,
        name,
        primary_contact_name: contact,
        search_text: searchText(name, contact),
        created_at: now,
        updated_at: now,
      })
      idOf.set(remote, Number((await db('tenant_master').where({remote_tenant_id: remote}).first('id'))!.id))
    }
  })

  afterAll(async () => {
    await control?.drop()
  })

  it.each<[string, number]>([
    ['ÉCOLE Bakery', 1],
    ['école bakery', 1],
    ['ecole  BAKERY', 1],
    ['ØRESUND FREIGHT', 2],
    ['øresund freight', 2],
    ['SOLO CAFÉ', 6],
    ['solo cafe', 6],
    // Shaped as RDS:N or as an id, but naming no tenant so: a name.
    ['studio:54', 7],
    ['1999', 8],
    ['eu-1:77', 9],
  ])('"%s" names the tenant whatever its case and accents', async (ref, remote) => {
    expect((await getTenant(control.db, ref)).id).toBe(idOf.get(remote))
  })

  it('an id or RDS:N that names a tenant so is that tenant, whatever the names', async () => {
    expect((await getTenant(control.db, String(idOf.get(8)))).id).toBe(idOf.get(8))
    expect((await getTenant(control.db, 'eu-1:9')).id).toBe(idOf.get(9))
  })

  it.each([
    ['nowhere:5', 'no RDS named "nowhere"'],
    ['987654', 'no tenant with id 987654'],
    ['eu-1:78', 'RDS "eu-1" has no tenant 78 in the registry'],
  ])('"%s", neither so nor a name, says what was looked for (exit 2)', async (ref, message) => {
    const error = await getTenant(control.db, ref).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RaiopsError)
    expect((error as RaiopsError).exitCode).toBe(2)
    expect((error as RaiopsError).message).toBe(message)
  })

  it('a name two tenants share in different case lists both (exit 2)', async () => {
    const error = await getTenant(control.db, 'HARBOR BAKERY').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RaiopsError)
    expect((error as RaiopsError).exitCode).toBe(2)
    expect((error as RaiopsError).message).toBe(`2 tenants are named "HARBOR BAKERY": eu-1:3 (id ${idOf.get(3)}), eu-1:4 (id ${idOf.get(4)})`)
  })

  it.each(['Lonely Contact', 'Ana Silva', 'bakery'])('"%s", which is no tenant\'s name, names none (exit 2)', async (ref) => {
    const error = await getTenant(control.db, ref).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RaiopsError)
    expect((error as RaiopsError).exitCode).toBe(2)
    expect((error as RaiopsError).message).toBe(`no tenant named "${ref}"`)
  })
})
