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
  if (err instanceof Error) return err.message
  // libp2p rejects a write to a stream that closed meanwhile with the close event itself ("[object Event]").
  if (err instanceof Event) {
    const { error, local } = err as Event & { error?: unknown, local?: boolean }
    const what = err.type === 'close' ? `stream closed ${local === true ? 'here' : local === false ? 'by the peer' : ''}`.trimEnd() : `${err.type} event`
    return error != null ? `${what}: ${errorMessage(error)}` : what
  }
  return String(err)
}

export function isCode (err: unknown, code: string): boolean {
  return err instanceof BtpsError && err.code === code
}
