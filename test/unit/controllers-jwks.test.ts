import { expect } from 'chai';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { JwksFetcher } from '../../src/controllers/jwks/fetcher.ts';
import { jwksUses, selectsAWorkload } from '../../src/controllers/jwks/uris.ts';
import { FakeTimers } from './fake-timers.ts';

const KEY_A = { kty: 'RSA', kid: 'a', n: 'abc', e: 'AQAB' };
const KEY_B = { kty: 'RSA', kid: 'b', n: 'def', e: 'AQAB' };

/** A JWKS endpoint on 127.0.0.1 whose answer the test sets. */
async function jwksServer(): Promise<{ url: string; server: Server; hits: () => number; answer: (fn: (res: ServerResponse) => void) => void; close: () => Promise<void> }> {
  let handler: (res: ServerResponse) => void = (res) => res.end(JSON.stringify({ keys: [KEY_A] }));
  let hits = 0;
  let base = '';
  const server = createServer((req, res) => {
    if (req.url === '/issuer/.well-known/openid-configuration') return res.end(JSON.stringify({ issuer: `${base}/issuer`, jwks_uri: `${base}/jwks.json` }));
    hits++;
    handler(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    server,
    hits: () => hits,
    answer: (fn) => void (handler = fn),
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

describe('controllers: JWKS fetcher', () => {
  let srv: Awaited<ReturnType<typeof jwksServer>>;
  let fetcher: JwksFetcher | undefined;
  beforeEach(async () => {
    srv = await jwksServer();
  });
  afterEach(async () => {
    await fetcher?.stop();
    fetcher = undefined;
    await srv.close();
  });

  const start = (timers: FakeTimers, changes: string[][], extra: ConstructorParameters<typeof JwksFetcher>[0] = {}): JwksFetcher =>
    (fetcher = new JwksFetcher({ timers, refreshMs: 60_000, retryBaseMs: 1_000, retryMaxMs: 8_000, onChange: (u) => changes.push(u), ...extra }));

  it('fetches a wanted URI at once, refreshes on schedule and reports only changed keys', async () => {
    const timers = new FakeTimers();
    const changes: string[][] = [];
    const f = start(timers, changes);
    f.want(new Map([[srv.url, {}]]));
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ keys: JSON.stringify({ keys: [KEY_A] }), fetchedAt: new Date(timers.now()).toISOString() });
    expect(changes).to.deep.equal([[srv.url]]);
    expect(timers.delays()).to.deep.equal([60_000]);

    // Same keys (differently formatted): fetched again, no change.
    srv.answer((res) => res.end(`{ "keys" : [ ${JSON.stringify(KEY_A)} ] }`));
    await timers.advance(60_000);
    await f.settled();
    expect(srv.hits()).to.equal(2);
    expect(changes).to.have.length(1);

    srv.answer((res) => res.end(JSON.stringify({ keys: [KEY_A, KEY_B] })));
    await timers.advance(60_000);
    await f.settled();
    expect(changes).to.deep.equal([[srv.url], [srv.url]]);
    expect(JSON.parse((f.get(srv.url) as { keys: string }).keys).keys).to.have.length(2);
  });

  it('reports a failing URI and retries with backoff until it answers', async () => {
    const timers = new FakeTimers();
    const changes: string[][] = [];
    srv.answer((res) => {
      res.statusCode = 503;
      res.end('down');
    });
    const f = start(timers, changes);
    f.want(new Map([[srv.url, {}]]));
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ error: `HTTP 503 from ${srv.url}` });
    expect(changes).to.deep.equal([[srv.url]]);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      delays.push(timers.delays()[0]!);
      await timers.advance(timers.delays()[0]!);
      await f.settled();
    }
    expect(delays).to.deep.equal([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(changes).to.have.length(1); // the same error is no news
    srv.answer((res) => res.end(JSON.stringify({ keys: [KEY_B] })));
    await timers.advance(timers.delays()[0]!);
    await f.settled();
    expect(f.get(srv.url)).to.have.property('keys');
    expect(changes).to.have.length(2);
    expect(timers.delays()).to.deep.equal([60_000]);
  });

  it('keeps the keys it has when a refresh fails', async () => {
    const timers = new FakeTimers();
    const changes: string[][] = [];
    const f = start(timers, changes);
    f.want(new Map([[srv.url, {}]]));
    await f.settled();
    srv.answer((res) => res.destroy());
    await timers.advance(60_000);
    await f.settled();
    expect(f.get(srv.url)).to.have.property('keys');
    expect(changes).to.have.length(1);
    expect(timers.delays()).to.deep.equal([1_000]);
  });

  it('refuses what is not a key set, too large a body, and a server that does not answer in time', async () => {
    const timers = new FakeTimers();
    const f = start(timers, [], { maxBytes: 64 });
    srv.answer((res) => res.end('<html>'));
    f.want(new Map([[srv.url, {}]]));
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ error: 'the response is not JSON' });

    srv.answer((res) => res.end(JSON.stringify({ keys: [KEY_A, KEY_B, KEY_A] })));
    await timers.advance(timers.delays()[0]!);
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ error: 'the key set is larger than 64 bytes' });

    srv.answer((res) => res.end(JSON.stringify({ nokeys: 1 })));
    await timers.advance(timers.delays()[0]!);
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ error: 'the response is not a JSON Web Key Set (no "keys" array of objects)' });

    srv.answer(() => {}); // never answers
    await timers.advance(timers.delays()[0]!);
    await timers.advance(5_000);
    await f.settled();
    expect(f.get(srv.url)).to.deep.equal({ error: 'timed out after 5000 ms' });
  });

  it('discovers the key set of an issuer without jwksUri (OpenID Connect), filed under the issuer', async () => {
    const timers = new FakeTimers();
    const changes: string[][] = [];
    const f = start(timers, changes);
    const issuer = srv.url.replace('/jwks.json', '/issuer/');
    f.want(new Map([[issuer, { discover: true }], ['accounts.example', { discover: true }]]));
    await f.settled();
    expect(f.get(issuer)).to.have.property('keys', JSON.stringify({ keys: [KEY_A] }));
    expect(f.get('accounts.example')).to.deep.equal({ error: 'issuer "accounts.example" is not an http(s) URL, so its keys cannot be discovered: set jwksUri or jwks' });
  });

  it('forgets URIs no longer wanted (a change) and stops their timers', async () => {
    const timers = new FakeTimers();
    const changes: string[][] = [];
    const f = start(timers, changes);
    f.want(new Map([[srv.url, {}]]));
    await f.settled();
    f.want(new Map());
    expect(f.get(srv.url)).to.equal(undefined);
    expect(f.all()).to.deep.equal({});
    expect(changes).to.deep.equal([[srv.url], [srv.url]]);
    expect(timers.delays()).to.deep.equal([]);
  });
});

describe('controllers: JWKS URIs of RequestAuthentications', () => {
  it('collects jwksUri (and jwks_uri) of rules without inline keys, with users and the longest timeout', () => {
    const ra = (ns: string, name: string, jwtRules: unknown[]) => ({ metadata: { namespace: ns, name }, spec: { jwtRules } });
    const uses = jwksUses([
      ra('a', 'one', [{ issuer: 'x', jwksUri: 'https://x/keys', timeout: '2s' }, { issuer: 'y', jwks: '{"keys":[]}', jwksUri: 'https://y/keys' }]),
      ra('b', 'two', [{ issuer: 'x', jwksUri: 'https://x/keys', timeout: '1m' }, { issuer: 'z', jwks_uri: 'https://z/keys' }]),
      ra('c', 'three', [{ issuer: 'https://accounts.example' }]),
    ]);
    expect([...uses]).to.deep.equal([
      ['https://x/keys', { users: ['RequestAuthentication/a/one', 'RequestAuthentication/b/two'], timeoutMs: 60_000 }],
      ['https://z/keys', { users: ['RequestAuthentication/b/two'] }],
      ['https://accounts.example', { users: ['RequestAuthentication/c/three'], discover: true }],
    ]);
  });
});

describe('jwks: which RequestAuthentications need keys', () => {
  const labels: Record<string, Array<Record<string, string>>> = { shop: [{ app: 'cart' }], other: [{ app: 'web' }] };
  const workloads = (ns: string | undefined) => (ns === undefined ? Object.values(labels).flat() : labels[ns] ?? []);
  const ra = (namespace: string, spec: unknown) => ({ metadata: { namespace }, spec });

  it('only those selecting a workload: by selector in their namespace, anywhere from the root namespace, never by targetRef', () => {
    expect(selectsAWorkload(ra('shop', {}), 'weft-system', workloads)).to.equal(true);
    expect(selectsAWorkload(ra('shop', { selector: { matchLabels: { app: 'cart' } } }), 'weft-system', workloads)).to.equal(true);
    expect(selectsAWorkload(ra('shop', { selector: { matchLabels: { app: 'web' } } }), 'weft-system', workloads)).to.equal(false);
    expect(selectsAWorkload(ra('empty', {}), 'weft-system', workloads)).to.equal(false);
    expect(selectsAWorkload(ra('weft-system', { selector: { matchLabels: { app: 'web' } } }), 'weft-system', workloads)).to.equal(true);
    expect(selectsAWorkload(ra('shop', { targetRefs: [{ kind: 'Gateway', name: 'g' }] }), 'weft-system', workloads)).to.equal(false);
  });
});
