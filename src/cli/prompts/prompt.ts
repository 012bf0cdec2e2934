/**
 * Interactive prompts (inquirer), loaded only when a prompt is shown. Callers
 * decide whether prompting is allowed; these never run without a TTY.
 */
export async function promptText(message: string, options: {default?: string; validate?: Validate} = {}): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  const {value} = await inquirer.prompt<{value: string}>([{type: 'input', name: 'value', message, default: options.default, validate: options.validate}])
  return value
}

/** What a prompt's answer is checked with as it is entered: true, or why it is refused (the prompt then asks again). */
export type Validate = (value: string) => true | string

/** Whether `error` is Ctrl-C at a prompt (inquirer's ExitPromptError): the command exits 130 without a word. */
export function isPromptInterrupt(error: unknown): boolean {
  return (error as {name?: string} | null)?.name === 'ExitPromptError'
}

export async function promptSecret(message: string, options: {confirm?: boolean; validate?: Validate} = {}): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  for (;;) {
    const {value} = await inquirer.prompt<{value: string}>([{type: 'password', name: 'value', message, mask: '*', validate: options.validate}])
    if (!options.confirm) return value
    const {again} = await inquirer.prompt<{again: string}>([{type: 'password', name: 'again', message: 'Repeat it', mask: '*'}])
    if (again === value) return value
    process.stderr.write('The two entries differ; try again.\n')
  }
}

export async function promptSelect<T extends string>(message: string, choices: readonly T[], defaultValue?: T): Promise<T> {
  const {default: inquirer} = await import('inquirer')
  const {value} = await inquirer.prompt<{value: string}>([{type: 'select', name: 'value', message, choices: [...choices], default: defaultValue}])
  return value as T
}

export async function promptConfirm(message: string, defaultValue = false): Promise<boolean> {
  const {default: inquirer} = await import('inquirer')
  const {value} = await inquirer.prompt<{value: boolean}>([{type: 'confirm', name: 'value', message, default: defaultValue}])
  return value
}

/** How a service asks for missing values; present only when prompting is allowed. */
export interface Asker {
  text(question: string, fallback?: string, validate?: Validate): Promise<string>
  secret(question: string): Promise<string>
  select<T extends string>(question: string, choices: readonly T[], fallback: T): Promise<T>
  confirm(question: string, fallback: boolean): Promise<boolean>
}

/** The Asker of a person at a terminal. */
export const terminalAsker: Asker = {
  text: (question, fallback, validate) => promptText(question, {default: fallback, validate}),
  secret: (question) => promptSecret(question),
  select: (question, choices, fallback) => promptSelect(question, choices, fallback),
  confirm: (question, fallback) => promptConfirm(question, fallback),
}
