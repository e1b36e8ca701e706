// ext-authz: an external authorizer like Istio's samples/extauthz, for CUSTOM AuthorizationPolicies. Two servers:
// HTTP on $HTTP_PORT (default 8000) — Envoy's HTTP ext_authz service: any request is a check request — and gRPC on
// $GRPC_PORT (default 9000), envoy.service.auth.v3.Authorization/Check (v2's path too, same wire layout) over
// node:http2 cleartext, the messages read and written with the small protobuf codec in lib/proto-wire.ts.
// A check is allowed when the request carries header `x-ext-authz: allow` (gRPC also: the source principal ends
// with `/sa/$ALLOW_SERVICE_ACCOUNT`, default `a`, as the sample's flag); allowed → 200 (gRPC: OK with an
// ok_response) adding header `x-ext-authz-check-result: allowed`; denied → 403 with `x-ext-authz-check-result:
// denied` and the sample's body. Each decision is logged: `[HTTP][allowed]: …` / `[gRPCv3][denied]: …`.
import http from 'node:http';
import http2 from 'node:http2';
import { bytesField, decode, intField, messageOf, stringMapOf, stringOf } from './lib/proto-wire.ts';

const CHECK_HEADER = 'x-ext-authz';
const ALLOWED_VALUE = 'allow';
const RESULT_HEADER = 'x-ext-authz-check-result';
export const DENY_BODY = `denied by ext_authz for not found header \`${CHECK_HEADER}: ${ALLOWED_VALUE}\` in the request`;
const allowSa = process.env.ALLOW_SERVICE_ACCOUNT ?? 'a';
const GRPC_OK = 0;
const GRPC_PERMISSION_DENIED = 7;
const GRPC_UNIMPLEMENTED = 12;
const GRPC_INTERNAL = 13;

const httpServer = http.createServer((req, res) => {
  const allowed = req.headers[CHECK_HEADER] === ALLOWED_VALUE;
  console.log(`[HTTP][${allowed ? 'allowed' : 'denied'}]: ${req.method} ${req.headers.host ?? ''}${req.url}, headers: ${JSON.stringify(req.headers)}`);
  if (allowed) {
    res.writeHead(200, { [RESULT_HEADER]: 'allowed', 'content-length': 0 });
    res.end();
  } else {
    res.writeHead(403, { [RESULT_HEADER]: 'denied', 'content-type': 'text/plain', 'content-length': Buffer.byteLength(DENY_BODY) });
    res.end(DENY_BODY);
  }
});

/** What a CheckRequest carries that the decision and the log need. */
export interface Check {
  host: string;
  path: string;
  method: string;
  headers: Record<string, string>;
  sourcePrincipal: string;
}

export function readCheckRequest(buf: Buffer): Check {
  const attributes = messageOf(decode(buf), 1);
  const source = messageOf(attributes, 1);
  const httpReq = messageOf(messageOf(attributes, 4), 2);
  const headers = stringMapOf(httpReq, 3);
  // Newer Envoys may send header_map (13: HeaderMap{repeated HeaderValue{key 1, value 2, raw_value 3}}) instead.
  for (const hv of (httpReq.get(13) ?? []).flatMap((m) => (Buffer.isBuffer(m) ? decode(m).get(1) ?? [] : []))) {
    if (!Buffer.isBuffer(hv)) continue;
    const f = decode(hv);
    headers[stringOf(f, 1)] ??= stringOf(f, 2) || stringOf(f, 3);
  }
  return { host: stringOf(httpReq, 5), path: stringOf(httpReq, 4), method: stringOf(httpReq, 2), headers, sourcePrincipal: stringOf(source, 4) };
}

const headerOption = (key: string, value: string) => bytesField(1, [bytesField(1, key), bytesField(2, value)]);

/** CheckResponse{status, ok_response | denied_response}, as the sample answers. */
export function checkResponse(allowed: boolean): Buffer {
  if (allowed) {
    return Buffer.concat([bytesField(1, intField(1, GRPC_OK)), bytesField(3, bytesField(2, headerOption(RESULT_HEADER, 'allowed')))]);
  }
  const denied = [bytesField(1, intField(1, 403)), bytesField(2, headerOption(RESULT_HEADER, 'denied')), bytesField(3, DENY_BODY)];
  return Buffer.concat([bytesField(1, intField(1, GRPC_PERMISSION_DENIED)), bytesField(2, denied)]);
}

export function decide(c: Check): boolean {
  return c.headers[CHECK_HEADER] === ALLOWED_VALUE || (c.sourcePrincipal !== '' && c.sourcePrincipal.endsWith(`/sa/${allowSa}`));
}

function grpcFrame(msg: Buffer): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(msg.length, 1);
  return Buffer.concat([prefix, msg]);
}

const grpcServer = http2.createServer();
grpcServer.on('stream', (stream, headers) => {
  const path = String(headers[':path'] ?? '');
  const version = path === '/envoy.service.auth.v3.Authorization/Check' ? 'v3' : path === '/envoy.service.auth.v2.Authorization/Check' ? 'v2' : undefined;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('error', () => stream.destroy());
  stream.on('end', () => {
    const fail = (code: number, message: string) => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) }, { endStream: true });
    };
    if (!version) return fail(GRPC_UNIMPLEMENTED, `unknown method ${path}`);
    const body = Buffer.concat(chunks);
    let check: Check;
    try {
      if (body.length < 5 || body[0] !== 0) throw new Error('expected one uncompressed gRPC message');
      check = readCheckRequest(body.subarray(5, 5 + body.readUInt32BE(1)));
    } catch (err) {
      return fail(GRPC_INTERNAL, (err as Error).message);
    }
    const allowed = decide(check);
    console.log(`[gRPC${version}][${allowed ? 'allowed' : 'denied'}]: ${check.host}${check.path}, attributes: ${JSON.stringify(check)}`);
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(grpcFrame(checkResponse(allowed)));
  });
});

if (import.meta.main) {
  const httpPort = Number(process.env.HTTP_PORT || 8000);
  const grpcPort = Number(process.env.GRPC_PORT || 9000);
  httpServer.listen(httpPort, '0.0.0.0', () => console.log(`ext-authz ${process.env.APP_VERSION ?? ''} HTTP listening on 0.0.0.0:${httpPort}`));
  grpcServer.listen(grpcPort, '0.0.0.0', () => console.log(`ext-authz ${process.env.APP_VERSION ?? ''} gRPC listening on 0.0.0.0:${grpcPort}`));
  const stop = (): void => {
    httpServer.closeAllConnections();
    httpServer.close();
    grpcServer.close();
    setTimeout(() => process.exit(0), 500).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
