/** Reads server-sent events from `body` until it ends; `onEvent` gets each event's type and its data text. */
export function readEvents (body: ReadableStream<Uint8Array>, onEvent: (type: string, data: string) => void): Promise<void>
