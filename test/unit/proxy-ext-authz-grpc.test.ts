// ext_authz with a gRPC authorizer: a real node:http2 (h2c) server on 127.0.0.1 speaking
// envoy.service.auth.v3.Authorization/Check with Envoy's protos, reached through an HTTP/2 cluster of the
// sidecar's cluster manager; the CheckRequest's contents, ok_response effects, denied_response replies, and
// failed calls (grpc-status, timeout) as errors.
import { expect } from 'chai';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { extAuthzStage } from '../../src/proxy/http/filters/ext-authz.ts';
import type { Runtime } from '../../src/proxy/runtime.ts';
import { decodeMessage, encodeMessage } from '../../src/translate/envoy/proto.ts';
import { FixtureCluster, FixtureClusters, makeRuntime } from '../support/proxy-http-fixtures.ts';
import { filterRequest, routeWith, runStage } from './proxy-jwt-fixtures.ts';

type Obj = Record<string, unknown>;
type Answer = { grpcStatus?: number; response?: Obj; delayMs?: number };

async function grpcAuthorizer(decide: (check: Obj, headers: http2.IncomingHttpHeaders) => Answer) {
  const seen: Array<{ check: Obj; headers: http2.IncomingHttpHeaders }> = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = Buffer.concat(chunks);
      const check = decodeMessage('envoy.service.auth.v3.CheckRequest', body.subarray(5, 5 + body.readUInt32BE(1)));
      seen.push({ check, headers });
      const a = decide(check, headers);
      const send = () => {
        if (stream.destroyed) return;
        if (a.grpcStatus !== undefined && a.grpcStatus !== 0) {
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(a.grpcStatus), 'grpc-message': 'down' }, { endStream: true });
          return;
        }
        const msg = encodeMessage('envoy.service.auth.v3.CheckResponse', a.response ?? {});
        const frame = Buffer.alloc(5 + msg.length);
        frame.writeUInt32BE(msg.length, 1);
        frame.set(msg, 5);
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frame);
      };
      if (a.delayMs) setTimeout(send, a.delayMs);
      else send();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => sessions.add(s));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    }),
  };
}

const CLUSTER = 'outbound|9000||ext-authz-grpc.foo.svc.cluster.local';

function config(extra: Obj = {}): Obj {
  return {
    grpcService: { envoyGrpc: { clusterName: CLUSTER, authority: 'ext-authz-grpc.foo.svc.cluster.local' }, timeout: { seconds: 2 } },
    transportApiVersion: 'V3',
    ...extra,
  };
}

const header = (key: string, value: string, append?: boolean): Obj => ({ header: { key, value }, ...(append !== undefined ? { append: { value: append } } : {}) });

describe('proxy ext_authz: gRPC authorizer', () => {
  let clusters: FixtureClusters;
  let runtime: Runtime;
  let auth: Awaited<ReturnType<typeof grpcAuthorizer>>;
  let decide: (check: Obj) => Answer;

  before(async () => {
    auth = await grpcAuthorizer((c) => decide(c));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster(CLUSTER, [auth.address], { h2c: true }));
    const config = { workload: { kind: 'Deployment', name: 'w', namespace: 'ns', serviceAccount: 'sa', labels: {} }, listeners: [], routes: [], clusters: [], endpoints: [], inputs: [] } as never;
    runtime = makeRuntime(config, clusters);
  });
  after(async () => {
    await clusters.close();
    await auth.close();
  });
  beforeEach(() => { auth.seen.length = 0; });

  it('sends a CheckRequest with the peers and the HTTP request, and applies an OK response', async () => {
    decide = () => ({
      response: {
        status: { code: 0 },
        okResponse: {
          headers: [header('x-user', 'bob', false), header('x-trail', 'b', true), header('x-mode', 'z')],
          headersToRemove: ['x-secret'],
          responseHeadersToAdd: [header('x-client', 'c')],
        },
        dynamicMetadata: { fields: { tier: { stringValue: 'gold' } } },
      },
    });
    const req = filterRequest({
      method: 'PUT', host: 'httpbin:8000', path: '/headers?x=1',
      headers: { 'x-ext-authz': 'allow', 'x-secret': 's', 'x-trail': 'a', 'x-request-id': 'rid-1', 'x-mode': 'a' },
      conn: { downstreamRemote: '10.1.2.3:5555', tls: { peerPrincipal: 'spiffe://cluster.local/ns/foo/sa/sleep' } },
    }, runtime);
    const out = await runStage(extAuthzStage(config(), runtime), req);
    expect(out.kind, JSON.stringify(out.req.replied)).to.equal('next');
    const seen = auth.seen[0]!;
    expect(seen.headers[':path']).to.equal('/envoy.service.auth.v3.Authorization/Check');
    expect(seen.headers['content-type']).to.equal('application/grpc');
    const attrs = seen.check.attributes as Obj;
    expect(attrs.source).to.deep.equal({ address: { socketAddress: { address: '10.1.2.3', portValue: 5555 } }, principal: 'spiffe://cluster.local/ns/foo/sa/sleep' });
    expect((attrs.destination as Obj).address).to.deep.equal({ socketAddress: { address: '10.0.0.1', portValue: 8080 } });
    const http = (attrs.request as Obj).http as Obj;
    expect(http).to.include({ id: 'rid-1', method: 'PUT', path: '/headers?x=1', host: 'httpbin:8000', scheme: 'http', protocol: 'HTTP/1.1' });
    expect(http.headers).to.include({ ':authority': 'httpbin:8000', ':method': 'PUT', ':path': '/headers?x=1', 'x-ext-authz': 'allow' });
    const h = req.request.headers;
    expect(h.get('x-user')).to.deep.equal(['bob']);
    expect(h.get('x-trail')).to.deep.equal(['a', 'b']);
    expect(h.get('x-mode')).to.deep.equal(['z']);
    expect(h.has('x-secret')).to.equal(false);
    expect(req.responseHeaders).to.deep.equal({ 'x-client': 'c' });
    expect(req.metadata.get('envoy.filters.http.ext_authz')).to.deep.equal({ tier: 'gold' });
  });

  it('sends only the allowed headers when allowed_headers is set', async () => {
    decide = () => ({ response: { status: { code: 0 } } });
    const cfg = config({ allowedHeaders: { patterns: [{ exact: 'x-ext-authz' }, { exact: ':path' }] } });
    await runStage(extAuthzStage(cfg, runtime), filterRequest({ headers: { 'x-ext-authz': 'a', cookie: 'c' } }, runtime));
    const http = ((auth.seen[0]!.check.attributes as Obj).request as Obj).http as Obj;
    expect(http.headers).to.deep.equal({ ':path': '/', 'x-ext-authz': 'a' });
  });

  it('answers a denial with denied_response (403 when it names no status), UAEX', async () => {
    decide = () => ({
      response: {
        status: { code: 7 },
        deniedResponse: { status: { code: 'Unauthorized' }, headers: [header('x-ext-authz-check-result', 'denied')], body: 'denied by ext_authz' },
      },
    });
    let out = await runStage(extAuthzStage(config(), runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 401, headers: { 'x-ext-authz-check-result': 'denied' }, body: 'denied by ext_authz' });
    expect(out.req.flags).to.deep.equal(['UAEX']);
    expect(out.req.details).to.equal('ext_authz_denied');
    decide = () => ({ response: { status: { code: 16 } } });
    out = await runStage(extAuthzStage(config(), runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 403, headers: {} });
  });

  it('treats a failed call and a timeout as errors, and passes them with failure_mode_allow', async () => {
    decide = () => ({ grpcStatus: 14 });
    let out = await runStage(extAuthzStage(config(), runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 403 });
    expect(out.req.details).to.equal('ext_authz_error');
    decide = () => ({ response: { status: { code: 0 } }, delayMs: 1000 });
    const quick = config({ grpcService: { envoyGrpc: { clusterName: CLUSTER }, timeout: { nanos: 100_000_000 } }, statusOnError: { code: 503 } });
    out = await runStage(extAuthzStage(quick, runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 503 });
    out = await runStage(extAuthzStage({ ...quick, failureModeAllow: true }, runtime), filterRequest({}, runtime));
    expect(out.kind).to.equal('next');
  });

  it('follows the route\'s ExtAuthzPerRoute: disabled skips the call, check_settings sends context extensions', async () => {
    decide = () => ({ response: { status: { code: 7 } } });
    const stage = extAuthzStage(config(), runtime, 'envoy.filters.http.ext_authz');
    const off = await runStage(stage, filterRequest({ route: routeWith({ 'envoy.filters.http.ext_authz': { disabled: true } }) }, runtime));
    expect(off).to.include({ kind: 'next', sync: true });
    expect(auth.seen).to.have.length(0);
    const route = routeWith({ 'envoy.filters.http.ext_authz': { checkSettings: { contextExtensions: { tier: 'gold' } } } });
    const out = await runStage(stage, filterRequest({ route }, runtime));
    expect(out.req.replied?.status).to.equal(403);
    expect((auth.seen[0]!.check.attributes as Obj).contextExtensions).to.deep.equal({ tier: 'gold' });
  });

  it('defaults the call timeout to 200 ms', async () => {
    decide = () => ({ response: { status: { code: 0 } }, delayMs: 1500 });
    const cfg = { grpcService: { envoyGrpc: { clusterName: CLUSTER } } };
    // The authorizer would allow, but only after the default timeout: the call fails first.
    const out = await runStage(extAuthzStage(cfg, runtime), filterRequest({}, runtime));
    expect(out.req.details).to.equal('ext_authz_error');
  });
});
