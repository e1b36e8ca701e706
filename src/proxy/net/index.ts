// The sidecar's network side: listeners (capture, explicit, gateway), protocol detection, downstream TLS and the
// TCP proxy, behind `startListeners` (runtime.ts seams in, a handle to stop and count connections out).
export { startListeners } from './listeners.ts';
export type { BoundListener, ExplicitListener, RunningListeners, StartListenersOptions } from './listeners.ts';
export type { LogFn } from './connection.ts';
export { originalDestination, originalDstAvailable, ADDON_PATH } from './original-dst.ts';
export { sniff, classify } from './sniff.ts';
export type { Sniffed, SniffOptions } from './sniff.ts';
export { parseClientHello } from './client-hello.ts';
