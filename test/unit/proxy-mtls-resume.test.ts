// TLS session resumption between sidecars: the upstream connector offers the host's last session on a new
// connection, the inbound termination (client certificate required) resumes it and still knows the peer's SPIFFE
// id, the client keeps the destination's principal; a rotated identity (a new secure context) starts afresh.
import { expect } from 'chai';
import { createServer } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildDownstreamTls, terminateTls } from '../../src/proxy/net/downstream-tls.ts';
import type { FileSource } from '../../src/proxy/runtime.ts';
import { openSocket } from '../../src/proxy/upstream/connector.ts';
import { createContexts, targetFor } from '../../src/proxy/upstream/pools.ts';
import type { HostLink, LinkDeps } from '../../src/proxy/upstream/pools.ts';
import { transportSpec } from '../../src/proxy/upstream/tls.ts';
import type { WorkloadCert } from '../../src/pki/workload-cert.ts';
import { ROOT_CERT, WORKLOAD_CERT_CHAIN, WORKLOAD_KEY } from '../../src/translate/identity-files.ts';
import { CLIENT_ID, SERVER_ID, SERVER_POD_IP, identity, pairConfigs } from '../support/proxy-pair.ts';

type Obj = Record<string, unknown>;

const filesOf = (c: () => WorkloadCert): FileSource => ({
  read: (p) => ({ [WORKLOAD_CERT_CHAIN]: c().certChainPem, [WORKLOAD_KEY]: c().keyPem, [ROOT_CERT]: c().rootCertPem })[p],
});

describe('proxy mTLS: session resumption between sidecars', function () {
  this.timeout(10_000);
  let server: Server;
  const accepted: Array<{ principal?: string; resumed: boolean }> = [];

  afterEach(() => server?.close());

  it('a new connection resumes the host\'s last session, both principals kept; a rotated identity on either side starts afresh', async () => {
    let serverId = await identity('web');
    let clientId = await identity('client');
    server = createServer();
    await new Promise<void>((r) => server.listen(0, SERVER_POD_IP, r));
    const port = (server.address() as AddressInfo).port;
    const cfg = pairConfigs({ mode: 'STRICT', appPorts: [port, port + 1] });
    const inbound = cfg.server.listeners.find((l) => l.name === 'virtualInbound') as { filterChains: Obj[] };
    const chain = inbound.filterChains.find((fc) => (fc.filterChainMatch as { destinationPort?: { value: number } }).destinationPort?.value === port
      && fc.transportSocket !== undefined && JSON.stringify(fc.filterChainMatch).includes('istio-http/1.1'))!;
    let dtls = buildDownstreamTls((chain.transportSocket as { typedConfig: Obj }).typedConfig, filesOf(() => serverId));
    server.on('connection', (socket: Socket) => {
      void terminateTls(socket, dtls).then((t) => {
        if (t.kind !== 'ok') return;
        accepted.push({ ...(t.peerPrincipal ? { principal: t.peerPrincipal } : {}), resumed: t.socket.isSessionReused() });
        t.socket.on('end', () => t.socket.destroy());
        t.socket.resume();
      });
    });
    const cluster = cfg.client.clusters.find((c) => String(c.name).startsWith('outbound|8080||web'))!;
    const matches = cluster.transportSocketMatches as Array<{ transportSocket: unknown }>;
    const link: HostLink = { host: SERVER_POD_IP, port, spec: transportSpec(matches[0]!.transportSocket) };
    const deps: LinkDeps = {
      settings: () => ({ protocol: 'http1', maxConcurrentStreams: 100, connectTimeoutMs: 2000, bind: {}, autoSni: false, autoSanValidation: false, key: '' }),
      files: () => filesOf(() => clientId),
      contexts: createContexts(),
    };
    const connect = async (): Promise<boolean> => {
      const before = link.tlsSession;
      const s = (await openSocket(targetFor(link, deps, 'http1'))) as TLSSocket;
      s.on('error', () => {});
      // The tickets follow the handshake: wait for this connection's before the next one.
      for (let i = 0; i < 100 && link.tlsSession === before; i++) await new Promise((r) => setTimeout(r, 2));
      const resumed = s.isSessionReused();
      s.end();
      return resumed;
    };

    expect(await connect()).to.equal(false);
    expect(await connect()).to.equal(true);
    expect(await connect()).to.equal(true);
    expect(link.principal).to.equal(SERVER_ID);
    expect(accepted.map((a) => a.resumed)).to.deep.equal([false, true, true]);
    expect(accepted.map((a) => a.principal)).to.deep.equal([CLIENT_ID, CLIENT_ID, CLIENT_ID]);

    // The client's identity rotates: its new context offers no old session (the server must see the new cert).
    clientId = await identity('client');
    expect(await connect()).to.equal(false);
    expect(await connect()).to.equal(true);
    expect(accepted.at(-2)).to.deep.equal({ principal: CLIENT_ID, resumed: false });
    expect(link.principal).to.equal(SERVER_ID);

    // The server's identity rotates (a new context, new ticket keys): the offered session is declined and a full
    // handshake follows, with no failed connection.
    serverId = await identity('web');
    dtls = buildDownstreamTls((chain.transportSocket as { typedConfig: Obj }).typedConfig, filesOf(() => serverId));
    expect(await connect()).to.equal(false);
    expect(await connect()).to.equal(true);
    expect(accepted.slice(-2)).to.deep.equal([{ principal: CLIENT_ID, resumed: false }, { principal: CLIENT_ID, resumed: true }]);
  });
});
