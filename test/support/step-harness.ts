import type {OpsContext} from '../../src/lib/context.js'
import type {JobKind, JsonObject, StepDefinition, StepRun} from '../../src/lib/jobs/kind.js'

/**
 * Runs a job kind's steps in process, as a runner would, with the
 * interruptions a runner must survive made on purpose: a step whose write
 * happened but whose output was never recorded (`unrecorded`), a step
 * stopped before it ran. Step outputs and checkpoints are kept in memory.
 * For testing steps themselves; the real runner is tested on its own.
 */
export interface StepHarness {
  outputs: Record<string, JsonObject>
  checkpoints: Record<string, JsonObject | null>
  attempts: Record<string, number>
  /** Runs one step (by name). `unrecorded`: its output is thrown away, as when the process dies right after the step's write. */
  run(name: string, options?: {unrecorded?: boolean}): Promise<JsonObject>
  /** Runs every step not done yet, in order. */
  runAll(): Promise<void>
  /** Compensates, last first, every step that ran or was attempted. */
  compensateAll(): Promise<void>
}

export function stepHarness<Input extends JsonObject>(
  kind: JobKind<Input>,
  ctx: StepRun<Input>['ctx'] & Pick<OpsContext, 'db'>,
  job: {id: number; input: Input},
): StepHarness {
  const outputs: Record<string, JsonObject> = {}
  const checkpoints: Record<string, JsonObject | null> = {}
  const attempts: Record<string, number> = {}
  const started: string[] = []
  const stepRun = (step: StepDefinition<Input>): StepRun<Input> => ({
    ctx,
    job: {id: job.id, kind: kind.kind, input: job.input},
    outputs: {...outputs},
    attempt: attempts[step.name] ?? 1,
    previous: checkpoints[step.name] ?? null,
    checkpoint: async (partial) => {
      checkpoints[step.name] = {...(checkpoints[step.name] ?? {}), ...partial}
    },
    memo: new Map(),
    signal: new AbortController().signal,
  })
  const find = (name: string) => {
    const step = kind.steps.find((s) => s.name === name)
    if (!step) throw new Error(`no step ${name}`)
    return step
  }
  const harness: StepHarness = {
    outputs,
    checkpoints,
    attempts,
    async run(name, options = {}) {
      const step = find(name)
      if (!started.includes(name)) started.push(name)
      attempts[name] = (attempts[name] ?? 0) + 1
      const output = await step.run(stepRun(step))
      // The output goes through JSON as the runner stores it.
      const stored = JSON.parse(JSON.stringify(output)) as JsonObject
      if (!options.unrecorded) outputs[name] = stored
      return stored
    },
    async runAll() {
      for (const step of kind.steps) if (!(step.name in outputs)) await harness.run(step.name)
    },
    async compensateAll() {
      for (const name of [...started].reverse()) {
        const step = find(name)
        await step.compensate?.(stepRun(step), outputs[name] ?? null)
      }
    },
  }
  return harness
}
