// No WebRTC in bt-ps: bittorrent-tracker's client sees these as absent and announces over UDP/HTTP only.
export const RTCPeerConnection = undefined
export const RTCSessionDescription = undefined
export const RTCIceCandidate = undefined
export const RTCDataChannel = undefined
export const RTCDataChannelEvent = undefined
export const RTCPeerConnectionIceEvent = undefined
export const RTCIceTransport = undefined
export const RTCSctpTransport = undefined
export const RTCDtlsTransport = undefined
export const RTCCertificate = undefined
export const MediaStream = undefined
export const MediaStreamTrack = undefined
export default {}
