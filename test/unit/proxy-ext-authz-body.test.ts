// ext_authz with_request_body through the sidecar: the body is read before the router for the authorizer (cut
// at max_request_bytes with allow_partial_message, x-envoy-auth-partial-body saying so), the upstream still gets
// all of it, and a body over the proxy's buffer limit without allow_partial_message is answered 413.
import { expect } from 'chai';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { HCM, ROUTER, listener, proxyConfig, routeConfig, vhost } from '../support/envoy-objects.ts';
import { FixtureCluster, FixtureClusters, makeRuntime, startProxy, startUpstream } from '../support/proxy-http-fixtures.ts';
import type { ProxyFront, Upstream } from '../support/proxy-http-fixtures.ts';
import { send } from '../support/proxy-http-client.ts';

const EXT_AUTHZ = 'type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz';

function config(withRequestBody: Record<string, unknown>): ProxyConfig {
  const httpFilters = [
    {
      name: 'envoy.filters.http.ext_authz',
      typedConfig: {
        '@type': EXT_AUTHZ,
        httpService: {
          serverUri: { uri: 'http://authz', cluster: 'authz', timeout: { seconds: 5 } },
          authorizationRequest: { allowedHeaders: { patterns: [{ prefix: 'x-envoy-auth-' }] } },
        },
        withRequestBody,
      },
    },
    { name: 'envoy.filters.http.router', typedConfig: { '@type': ROUTER } },
  ];
  const rc = routeConfig('inbound', [vhost('in', ['*'], [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'app' } }])]);
  const hcm = { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM, statPrefix: 'inbound', rds: { routeConfigName: 'inbound' }, httpFilters } };
  return proxyConfig({ listeners: [listener('virtualInbound', '0.0.0.0', 15006, [{ filters: [hcm] }])], routes: [rc] });
}

describe('proxy ext_authz: the request body for the authorizer', function () {
  this.timeout(10_000);
  let up: Upstream;
  let authorizer: http.Server;
  let clusters: FixtureClusters;
  const fronts: ProxyFront[] = [];
  const seen: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];

  before(async () => {
    up = await startUpstream((_req, res, body) => res.end(body));
    authorizer = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => { body += c; });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(body.includes('allow') ? 200 : 403);
        res.end();
      });
    });
    await new Promise<void>((r) => authorizer.listen(0, '127.0.0.1', r));
    clusters = new FixtureClusters();
    clusters.add(new FixtureCluster('app', [up.address]));
    clusters.add(new FixtureCluster('authz', [`127.0.0.1:${(authorizer.address() as AddressInfo).port}`]));
  });
  after(async () => {
    await Promise.all(fronts.map((f) => f.close()));
    await clusters.close();
    await up.close();
    authorizer.closeAllConnections();
    await new Promise<void>((r) => authorizer.close(() => r()));
  });
  beforeEach(() => { seen.length = 0; });

  const start = async (withRequestBody: Record<string, unknown>, bufferLimitBytes?: number) => {
    const front = await startProxy(makeRuntime(config(withRequestBody), clusters), 'http1', 8080, {
      kind: 'inbound', ...(bufferLimitBytes ? { options: { bufferLimitBytes } } : {}),
    });
    fronts.push(front);
    return front.port;
  };

  it('sends the body to the authorizer and the whole body upstream', async () => {
    const port = await start({ maxRequestBytes: 1024 });
    const ok = await send(port, '/', { method: 'POST', body: 'please allow me' });
    expect([ok.status, ok.body]).to.deep.equal([200, 'please allow me']);
    expect(seen[0]!.body).to.equal('please allow me');
    expect(seen[0]!.headers).to.include({ 'content-length': '15', 'x-envoy-auth-partial-body': 'false' });
    const no = await send(port, '/', { method: 'POST', body: 'nope' });
    expect(no.status).to.equal(403);
    const empty = await send(port, '/');
    expect(empty.status).to.equal(403);
  });

  it('cuts the authorizer\'s copy at max_request_bytes with allow_partial_message', async () => {
    const port = await start({ maxRequestBytes: 8, allowPartialMessage: true });
    const body = 'allow-me' + 'x'.repeat(100_000);
    const res = await send(port, '/', { method: 'POST', body });
    expect(res.status).to.equal(200);
    expect(res.body).to.equal(body);
    expect(seen[0]!.body).to.equal('allow-me');
    expect(seen[0]!.headers['x-envoy-auth-partial-body']).to.equal('true');
  });

  it('answers 413 for a body over the buffer limit without allow_partial_message', async () => {
    const port = await start({ maxRequestBytes: 8 }, 1024);
    const res = await send(port, '/', { method: 'POST', body: 'allow ' + 'y'.repeat(4096) });
    expect(res.status).to.equal(413);
    expect(seen).to.have.length(0);
    expect(up.bodies.some((b) => b.includes('yyyy'))).to.equal(false);
  });
});
