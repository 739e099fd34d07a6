// Server-sent events (GET /api/events) read from a fetch body: one reader for the dashboard in the browser and
// for `bt-ps logs follow` in Node, so both split the stream the same way.

/**
 * Reads `body` (a ReadableStream of bytes) to its end and calls `onEvent(type, data)` for each event that carries
 * data: `type` is its `event:` field ('message' when there is none), `data` its `data:` lines joined by newlines.
 */
export async function readEvents (body, onEvent) {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffered = ''
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    buffered += decoder.decode(value, { stream: true })
    for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
      const block = buffered.slice(0, end)
      buffered = buffered.slice(end + 2)
      const type = /^event: (.*)$/m.exec(block)?.[1] ?? 'message'
      const data = block.split('\n').filter(l => l.startsWith('data: ')).map(l => l.slice(6)).join('\n')
      if (data !== '') onEvent(type, data)
    }
  }
}
