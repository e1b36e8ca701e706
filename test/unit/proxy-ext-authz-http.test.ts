// ext_authz with an HTTP authorizer: a real node:http authorizer on 127.0.0.1 reached through a cluster of the
// sidecar's cluster manager; what the check request carries, and allow / deny / error / timeout / fail-open /
// filter_enabled_metadata with Envoy's header rules, statuses, flags and details.
import { expect } from 'chai';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extAuthzStage } from '../../src/proxy/http/filters/ext-authz.ts';
import type { Runtime } from '../../src/proxy/runtime.ts';
import { FixtureCluster, FixtureClusters, makeRuntime } from '../support/proxy-http-fixtures.ts';
import { filterRequest, runStage } from './proxy-jwt-fixtures.ts';

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }

async function authorizer(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ address: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handle(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function emptyConfig() {
  return { workload: { kind: 'Deployment', name: 'w', namespace: 'ns', serviceAccount: 'sa', labels: {} }, listeners: [], routes: [], clusters: [], endpoints: [], inputs: [] } as never;
}

const CLUSTER = 'outbound|8000||ext-authz.foo.svc.cluster.local';

function config(extra: Record<string, unknown> = {}, service: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    httpService: {
      serverUri: { uri: 'http://ext-authz.foo.svc.cluster.local:8000', cluster: CLUSTER, timeout: { seconds: 2 } },
      pathPrefix: '/check',
      authorizationRequest: {
        allowedHeaders: { patterns: [{ exact: 'x-ext-authz', ignoreCase: true }] },
        headersToAdd: [{ key: 'x-from', value: 'weft' }],
      },
      authorizationResponse: {
        allowedUpstreamHeaders: { patterns: [{ exact: 'x-user' }] },
        allowedUpstreamHeadersToAppend: { patterns: [{ exact: 'x-trail' }] },
        allowedClientHeadersOnSuccess: { patterns: [{ exact: 'x-client' }] },
        dynamicMetadataFromHeaders: { patterns: [{ prefix: 'x-meta-' }] },
      },
      ...service,
    },
    ...extra,
  };
}

describe('proxy ext_authz: HTTP authorizer', () => {
  let clusters: FixtureClusters;
  let runtime: Runtime;
  let auth: Awaited<ReturnType<typeof authorizer>>;
  let decide: (req: IncomingMessage, res: ServerResponse) => void;

  before(async () => {
    auth = await authorizer((req, res) => decide(req, res));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster(CLUSTER, [auth.address]));
    clusters.add(new FixtureCluster('closed', ['127.0.0.1:1']));
    runtime = makeRuntime(emptyConfig(), clusters);
  });
  after(async () => {
    await clusters.close();
    await auth.close();
  });
  beforeEach(() => { auth.seen.length = 0; });

  it('sends method, prefixed path, host, Authorization and the allowed headers, and applies an allow', async () => {
    decide = (_req, res) => {
      res.writeHead(200, { 'x-user': 'bob', 'x-trail': 'b', 'x-client': 'c', 'x-meta-tier': 'gold', 'x-other': 'o' });
      res.end('ok');
    };
    const req = filterRequest({
      method: 'POST', host: 'productpage:9080', path: '/api/v1?q=1',
      headers: { authorization: 'Bearer t', 'x-ext-authz': 'allow', cookie: 'secret', 'content-length': '11', 'x-trail': 'a', 'x-user': 'forged' },
    }, runtime);
    const out = await runStage(extAuthzStage(config(), runtime), req);
    expect(out.kind).to.equal('next');
    expect(auth.seen).to.have.length(1);
    const s = auth.seen[0]!;
    expect(s.method).to.equal('POST');
    expect(s.url).to.equal('/check/api/v1?q=1');
    expect(s.headers).to.include({ host: 'productpage:9080', authorization: 'Bearer t', 'x-ext-authz': 'allow', 'x-from': 'weft', 'content-length': '0' });
    expect(s.headers).to.not.have.property('cookie');
    expect(s.body).to.equal('');
    const h = req.request.headers;
    expect(h.get('x-user')).to.deep.equal(['bob']);
    expect(h.get('x-trail')).to.deep.equal(['a', 'b']);
    expect(h.has('x-other')).to.equal(false);
    expect(req.responseHeaders).to.deep.equal({ 'x-client': 'c' });
    expect(req.metadata.get('envoy.filters.http.ext_authz')).to.deep.equal({ 'x-meta-tier': 'gold' });
  });

  it('answers a denial with the authorizer\'s status, body and headers (all but Host when not narrowed), UAEX', async () => {
    decide = (_req, res) => {
      res.writeHead(401, { 'x-ext-authz-check-result': 'denied', 'www-authenticate': 'Basic', 'content-type': 'text/plain' });
      res.end('denied by ext_authz for header `x-ext-authz: deny` found');
    };
    let out = await runStage(extAuthzStage(config(), runtime), filterRequest({ headers: { 'x-ext-authz': 'deny' } }, runtime));
    expect(out.kind).to.equal('reply');
    expect(out.req.replied?.status).to.equal(401);
    expect(out.req.replied?.body).to.equal('denied by ext_authz for header `x-ext-authz: deny` found');
    expect(out.req.replied?.headers).to.include({ 'x-ext-authz-check-result': 'denied', 'www-authenticate': 'Basic', 'content-type': 'text/plain' });
    expect(out.req.flags).to.deep.equal(['UAEX']);
    expect(out.req.details).to.equal('ext_authz_denied');
    const narrowed = config({}, { authorizationResponse: { allowedClientHeaders: { patterns: [{ exact: 'x-ext-authz-check-result' }] } } });
    out = await runStage(extAuthzStage(narrowed, runtime), filterRequest({}, runtime));
    expect(out.req.replied?.headers).to.have.all.keys('x-ext-authz-check-result', 'www-authenticate');
  });

  it('treats a 5xx, a timeout and an unreachable authorizer as errors: status_on_error, UAEX, ext_authz_error', async () => {
    decide = (_req, res) => { res.writeHead(503); res.end(); };
    let out = await runStage(extAuthzStage(config(), runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 403 });
    expect(out.req.flags).to.deep.equal(['UAEX']);
    expect(out.req.details).to.equal('ext_authz_error');

    decide = (_req, res) => { setTimeout(() => { res.writeHead(200); res.end(); }, 1500); };
    const quick = config({ statusOnError: { code: 'ServiceUnavailable' } }, { serverUri: { uri: 'http://x', cluster: CLUSTER, timeout: { nanos: 100_000_000 } } });
    out = await runStage(extAuthzStage(quick, runtime), filterRequest({}, runtime));
    expect(out.req.replied).to.deep.equal({ status: 503 });
    expect(out.req.details).to.equal('ext_authz_error');

    const unreachable = config({}, { serverUri: { uri: 'http://x', cluster: 'closed', timeout: { seconds: 1 } } });
    out = await runStage(extAuthzStage(unreachable, runtime), filterRequest({}, runtime));
    expect(out.req.details).to.equal('ext_authz_error');
    const missing = config({}, { serverUri: { uri: 'http://x', cluster: 'nowhere', timeout: { seconds: 1 } } });
    out = await runStage(extAuthzStage(missing, runtime), filterRequest({}, runtime));
    expect(out.req.details).to.equal('ext_authz_error');
  });

  it('lets the request through on errors with failure_mode_allow, marking it when asked', async () => {
    const open = config({ failureModeAllow: true, failureModeAllowHeaderAdd: true }, { serverUri: { uri: 'http://x', cluster: 'closed', timeout: { seconds: 1 } } });
    const out = await runStage(extAuthzStage(open, runtime), filterRequest({}, runtime));
    expect(out.kind).to.equal('next');
    expect(out.req.request.headers.get('x-envoy-auth-failure-mode-allowed')).to.deep.equal(['true']);
    expect(out.req.flags).to.deep.equal([]);
    // A denial is not an error: failure_mode_allow does not excuse it.
    decide = (_req, res) => { res.writeHead(403); res.end(); };
    const denied = await runStage(extAuthzStage(config({ failureModeAllow: true }), runtime), filterRequest({}, runtime));
    expect(denied.req.replied?.status).to.equal(403);
  });

  it('asks the authorizer only for requests filter_enabled_metadata selects (Istio\'s CUSTOM shape)', async () => {
    decide = (_req, res) => { res.writeHead(403); res.end('no'); };
    const istio = config({
      filterEnabledMetadata: {
        filter: 'envoy.filters.http.rbac',
        path: [{ key: 'istio_ext_authz_shadow_effective_policy_id' }],
        value: { stringMatch: { prefix: 'istio-ext-authz' } },
      },
    });
    const stage = extAuthzStage(istio, runtime);
    const skipped = await runStage(stage, filterRequest({}, runtime));
    expect(skipped).to.include({ kind: 'next', sync: true });
    expect(auth.seen).to.have.length(0);
    const marked = filterRequest({}, runtime);
    marked.metadata.set('envoy.filters.http.rbac', { istio_ext_authz_shadow_effective_policy_id: 'istio-ext-authz-ns[foo]-policy[ext]-rule[0]' });
    const out = await runStage(stage, marked);
    expect(out.req.replied).to.include({ status: 403, body: 'no' });
    expect(auth.seen).to.have.length(1);
  });
});
