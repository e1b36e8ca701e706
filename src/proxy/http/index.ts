// The sidecar's HTTP side: createHttpHandler (runtime.ts HttpHandler) and its options.
export { createHttpHandler } from './handler.ts';
export type { HttpHandlerOptions } from './handler.ts';
