/** Every error bt-ps raises on purpose carries a stable `code`; callers match on it, never on the message. */
export class BtpsError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'BtpsError'
  }
}

/** Bad input from outside (config, flags, a network message, a file); names the field and value. */
export class InvalidInputError extends BtpsError {
  readonly field: string
  constructor (code: string, field: string, message: string) {
    super(code, `${field}: ${message}`)
    this.field = field
    this.name = 'InvalidInputError'
  }
}

export function errorMessage (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

export function isCode (err: unknown, code: string): boolean {
  return err instanceof BtpsError && err.code === code
}
