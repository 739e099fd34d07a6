/** Versioned protocol ids and topics; a breaking change bumps the version. */
export const LOGIN_PROTOCOL = '/bt-ps/login/1.0.0'
export const MODEL_PROTOCOL = '/bt-ps/model/1.0.0'
export const UPDATE_PROTOCOL = '/bt-ps/update/1.0.0'
export const RECEIPT_PROTOCOL = '/bt-ps/receipt/1.0.0'
/** Round messages sent straight to each selected client, beside the gossip (which can lose a peer for good). */
export const ROUND_PROTOCOL = '/bt-ps/round/1.0.0'
/** Heartbeats sent straight to the server, beside the gossip, for the same reason. */
export const STATUS_PROTOCOL = '/bt-ps/status/1.0.0'
export const roundsTopic = (jobId: string): string => `/bt-ps/${jobId}/rounds/1`
export const statusTopic = (jobId: string): string => `/bt-ps/${jobId}/status/1`

/** Frames of bulk data on streams; control frames are JSON. */
export const DATA_FRAME_BYTES = 1 << 20
export const MAX_FRAME_BYTES = 4 << 20
