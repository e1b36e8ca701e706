// The gRPC side of ext_authz that the HTTP filter and the network filter share: a GrpcService (envoy_grpc: cluster,
// authority, timeout — 200 ms when unset —, initial metadata) compiled once; per check the CheckRequest's
// AttributeContext in, envoy.service.auth.v3.Authorization/Check called over HTTP/2 through the sidecar's
// cluster (authorizer-call.ts), and out the decoded CheckResponse as 'ok' (status code 0) or 'denied' (any other
// code), or an 'error' for a failed call (transport, grpc-status, timeout, an undecodable answer). Also the
// AttributeContext pieces both filters build: a peer's socket address and JS values as google.protobuf.Struct.
import { arr, durationMs, has, obj, str, structToJs } from '../routing/envoy-values.ts';
import type { Obj } from '../routing/envoy-values.ts';
import { decodeMessage, encodeMessage } from '../../translate/envoy/proto.ts';
import type { Runtime } from '../runtime.ts';
import { AuthorizerError, callAuthorizer } from './authorizer-call.ts';

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';
/** Envoy's default ext_authz gRPC timeout. */
const DEFAULT_TIMEOUT_MS = 200;

export type GrpcCheckOutcome =
  | { kind: 'ok' | 'denied'; response: Obj; metadata?: Record<string, unknown> }
  | { kind: 'error'; message: string; cancelled?: true };

/** `host:port` (IPv6 in brackets or not) → an envoy.config.core.v3.Address object; undefined for nothing. */
export function socketAddress(hostPort: string | undefined): Obj | undefined {
  if (!hostPort) return undefined;
  const i = hostPort.lastIndexOf(':');
  if (i < 0) return { socketAddress: { address: hostPort } };
  const ip = hostPort.slice(0, i).replace(/^\[|\]$/g, '');
  return { socketAddress: { address: ip, portValue: Number(hostPort.slice(i + 1)) } };
}

/** Plain JS → google.protobuf.Value object form. */
function toValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}

/** Plain JS object → google.protobuf.Struct object form. */
export function toStruct(o: Record<string, unknown>): Obj {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, toValue(v)])) };
}

function grpcFrame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function firstMessage(body: Buffer): Buffer | undefined {
  if (body.length < 5) return undefined;
  const len = body.readUInt32BE(1);
  return body.length >= 5 + len ? body.subarray(5, 5 + len) : undefined;
}

export class GrpcCheckClient {
  private readonly cluster: string;
  private readonly authority: string;
  private readonly timeoutMs: number;
  private readonly initialMetadata: Array<[string, string]>;

  /** `grpcService`: the filter's envoy.config.core.v3.GrpcService. */
  constructor(grpcService: unknown) {
    const svc = obj(grpcService);
    const envoyGrpc = obj(svc.envoyGrpc);
    this.cluster = str(envoyGrpc.clusterName);
    this.authority = str(envoyGrpc.authority) || this.cluster;
    this.timeoutMs = durationMs(svc.timeout) ?? DEFAULT_TIMEOUT_MS;
    this.initialMetadata = arr(svc.initialMetadata).map((h) => [str(h.key).toLowerCase(), str(h.value)]);
  }

  async check(runtime: Runtime, attributes: Obj, signal?: AbortSignal): Promise<GrpcCheckOutcome> {
    let res;
    try {
      const headers: Record<string, string> = {
        host: this.authority, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${Math.max(1, this.timeoutMs)}m`,
      };
      for (const [k, v] of this.initialMetadata) headers[k] = v;
      const body = grpcFrame(encodeMessage('envoy.service.auth.v3.CheckRequest', { attributes }));
      res = await callAuthorizer(runtime, this.cluster, {
        method: 'POST', path: CHECK_PATH, headers, body, timeoutMs: this.timeoutMs, http2: true, ...(signal ? { signal } : {}),
      });
    } catch (err) {
      if (err instanceof AuthorizerError) return { kind: 'error', message: err.message, ...(err.reason === 'cancelled' ? { cancelled: true as const } : {}) };
      return { kind: 'error', message: String(err) };
    }
    const grpcStatus = res.trailers['grpc-status'] ?? res.headers['grpc-status'];
    if (res.status !== 200 || String(grpcStatus) !== '0') {
      return { kind: 'error', message: `authorizer call failed: HTTP ${res.status}, grpc-status ${String(grpcStatus)}` };
    }
    const bytes = firstMessage(res.body);
    if (!bytes) return { kind: 'error', message: 'authorizer sent no CheckResponse' };
    let m: Obj;
    try {
      m = decodeMessage('envoy.service.auth.v3.CheckResponse', bytes);
    } catch (err) {
      return { kind: 'error', message: `bad CheckResponse: ${(err as Error).message}` };
    }
    const code = Number(obj(m.status).code ?? 0);
    const ok = obj(m.okResponse);
    // ok_response.dynamic_metadata (deprecated) overrides the response's own.
    const meta = has(ok, 'dynamicMetadata') ? ok.dynamicMetadata : m.dynamicMetadata;
    const metadata = meta !== undefined && meta !== null ? (structToJs(meta) as Record<string, unknown>) : undefined;
    const withMetadata = metadata && Object.keys(metadata).length > 0 ? { metadata } : {};
    return { kind: code === 0 ? 'ok' : 'denied', response: m, ...withMetadata };
  }
}
