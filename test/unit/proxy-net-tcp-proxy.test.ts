// TCP proxy settings end to end on loopback: ORIGINAL_DST clusters (PassthroughCluster) connect to the
// connection's original destination; tcp_proxy idle_timeout closes a quiet connection.
import { expect } from 'chai';
import { connect } from 'node:net';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import type { RunningListeners } from '../../src/proxy/net/listeners.ts';
import { listener, proxyConfig, tcpProxy } from '../support/envoy-objects.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';
import { echoServer, explicitListener, netRuntime, noHttp, readAll } from '../support/proxy-net-fixtures.ts';
import type { Closable, NetRuntime } from '../support/proxy-net-fixtures.ts';

describe('proxy net: TCP proxy settings', function () {
  this.timeout(10_000);
  let rt: NetRuntime | undefined;
  let running: RunningListeners | undefined;
  let backends: Closable[] = [];

  afterEach(async () => {
    await running?.close();
    await rt?.clusters.close();
    await Promise.all(backends.map((b) => b.close()));
    running = undefined;
    rt = undefined;
    backends = [];
  });

  it('connects ORIGINAL_DST clusters (PassthroughCluster) to the original destination', async () => {
    const echo = await echoServer('direct');
    backends.push(echo);
    rt = netRuntime(proxyConfig({
      listeners: [listener('virtualOutbound', '0.0.0.0', 15001, [{ filters: [tcpProxy('PassthroughCluster')] }])],
      clusters: [{ name: 'PassthroughCluster', type: 'ORIGINAL_DST', connectTimeout: { seconds: 1 }, lbPolicy: 'CLUSTER_PROVIDED' }],
    }));
    running = await startListeners(rt, noHttp, explicitListener('outbound', '127.0.0.1', echo.port));
    const c = connect(running.bound()[0]!.port, '127.0.0.1');
    const text = readAll(c);
    c.end('hi');
    expect(await text).to.equal('direct:hi');
    await new Promise((r) => setTimeout(r, 20));
    expect(rt.telemetry.closed[0]).to.include({ upstreamCluster: 'PassthroughCluster', upstreamHost: echo.address });
  });

  it('closes both sides after the tcp_proxy idle timeout', async () => {
    const echo = await echoServer('idle');
    backends.push(echo);
    const idle = { ...tcpProxy('db') };
    (idle.typedConfig as Record<string, unknown>).idleTimeout = { nanos: 60_000_000 };
    rt = netRuntime(proxyConfig({
      listeners: [listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [idle] }])],
      clusters: [staticCluster('db', [echo.address])],
    }));
    running = await startListeners(rt, noHttp, explicitListener('outbound', '10.0.0.9', 5432));
    const started = Date.now();
    const c = connect(running.bound()[0]!.port, '127.0.0.1');
    c.write('x');
    expect(await readAll(c)).to.equal('idle:x');
    expect(Date.now() - started).to.be.within(50, 2000);
  });
});
