/**
 * Interactive prompts (inquirer), loaded only when a prompt is shown. Callers
 * decide whether prompting is allowed; these never run without a TTY.
 */
export async function promptText(message: string, options: {default?: string; validate?: (value: string) => true | string} = {}): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  const {value} = await inquirer.prompt<{value: string}>([{type: 'input', name: 'value', message, default: options.default, validate: options.validate}])
  return value
}

export async function promptSecret(message: string, options: {confirm?: boolean} = {}): Promise<string> {
  const {default: inquirer} = await import('inquirer')
  for (;;) {
    const {value} = await inquirer.prompt<{value: string}>([{type: 'password', name: 'value', message, mask: '*'}])
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
  text(question: string, fallback?: string): Promise<string>
  secret(question: string): Promise<string>
  select<T extends string>(question: string, choices: readonly T[], fallback: T): Promise<T>
}

/** The Asker of a person at a terminal. */
export const terminalAsker: Asker = {
  text: (question, fallback) => promptText(question, {default: fallback}),
  secret: (question) => promptSecret(question),
  select: (question, choices, fallback) => promptSelect(question, choices, fallback),
}
