// Test fixture run inside a network namespace by proxy-net-capture.test.ts (where an iptables nat OUTPUT rule
// sends 198.51.100.0/24 to port 15001): starts the capture listeners over a small config and an echo server,
// connects to a fake service address and, directly (not redirected), to the capture ports themselves, and prints
// one JSON line.
import { connect } from 'node:net';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import { listener, proxyConfig, tcpProxy } from './envoy-objects.ts';
import { echoServer, netRuntime, readAll } from './proxy-net-fixtures.ts';
import { staticCluster } from './proxy-upstream-fixtures.ts';

const echo = await echoServer('db');
const rt = netRuntime(proxyConfig({
  listeners: [
    listener('virtualOutbound', '0.0.0.0', 15001, [{ filters: [tcpProxy('BlackHoleCluster')] }], { useOriginalDst: true }),
    listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [tcpProxy('db')] }]),
  ],
  clusters: [staticCluster('db', [echo.address]), staticCluster('BlackHoleCluster', [])],
}));
const running = await startListeners(rt, { serve: (s) => s.destroy(), drain: async () => {}, inFlight: () => 0 }, {
  capture: 'iptables', outboundPort: 15001, inboundPort: 15006, explicit: [], gateway: false,
});

async function exchange(host: string, port: number, text: string): Promise<string> {
  const c = connect(port, host);
  const reply = readAll(c);
  c.end(text);
  return reply;
}

const service = await exchange('198.51.100.7', 5432, 'hello');
const unknownPort = await exchange('198.51.100.7', 6000, 'nobody');
const loop = await exchange('127.0.0.1', 15001, 'loop');
// The namespace's own address, left out of the REDIRECT rule: with the nat table in use conntrack tracks it, and
// SO_ORIGINAL_DST answers the listener's own address rather than an error.
const ownOutbound = await exchange('198.51.100.1', 15001, 'own');
const ownInbound = await exchange('198.51.100.1', 15006, 'own');
await new Promise((r) => setTimeout(r, 20));
process.stdout.write(`${JSON.stringify({
  service, unknownPort, loop, ownOutbound, ownInbound, echoConnections: echo.connections,
  records: rt.telemetry.closed.map((r) => ({ cluster: r.upstreamCluster, flags: r.flags, sent: r.sentBytes, received: r.receivedBytes })),
})}\n`);
await running.close();
await rt.clusters.close();
await echo.close();
