// Network RBAC before tcp_proxy, through the real listeners and cluster manager: a denied connection is closed
// before any upstream is contacted, with a TCP record carrying the termination details and no flag; an allowed
// one is proxied. simulate() gives the same answer from the same evaluator.
import { expect } from 'chai';
import { connect } from 'node:net';
import { startListeners } from '../../src/proxy/net/listeners.ts';
import type { RunningListeners } from '../../src/proxy/net/listeners.ts';
import { simulate } from '../../src/proxy/routing/simulate.ts';
import type { ProxyConfig } from '../../src/translate/types.ts';
import { listener, proxyConfig, tcpProxy } from '../support/envoy-objects.ts';
import { staticCluster } from '../support/proxy-upstream-fixtures.ts';
import { echoServer, explicitListener, netRuntime, noHttp, readAll } from '../support/proxy-net-fixtures.ts';
import type { Closable, NetRuntime } from '../support/proxy-net-fixtures.ts';

type O = Record<string, unknown>;
const NET_RBAC = 'type.googleapis.com/envoy.extensions.filters.network.rbac.v3.RBAC';
const rbac = (rules: O): O => ({ name: 'envoy.filters.network.rbac', typedConfig: { '@type': NET_RBAC, statPrefix: 'tcp.', rules } });

function config(filters: O[], backend: string): ProxyConfig {
  return proxyConfig({
    listeners: [listener('0.0.0.0_5432', '0.0.0.0', 5432, [{ filters: [...filters, tcpProxy('db')] }])],
    clusters: [staticCluster('db', [backend])],
  });
}

describe('proxy authz: network RBAC before tcp_proxy', function () {
  this.timeout(10_000);
  let rt: NetRuntime | undefined;
  let running: RunningListeners | undefined;
  let echo: Closable & { connections: number; address: string; port: number };

  beforeEach(async () => {
    echo = await echoServer('db') as typeof echo;
  });
  afterEach(async () => {
    await running?.close();
    await rt?.clusters.close();
    await echo.close();
    running = undefined;
    rt = undefined;
  });

  async function talk(pc: ProxyConfig): Promise<string> {
    rt = netRuntime(pc);
    running = await startListeners(rt, noHttp, explicitListener('inbound', '10.0.0.9', 5432));
    const c = connect(running.bound()[0]!.port, '127.0.0.1');
    const text = readAll(c);
    c.on('connect', () => c.end('hi'));
    return text;
  }

  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 5000;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  };

  it('closes a denied connection without contacting the upstream, and records why', async () => {
    const deny = rbac({ action: 'DENY', policies: { 'ns[db]-policy[no-local]-rule[0]': { permissions: [{ destinationPort: 5432 }], principals: [{ directRemoteIp: { addressPrefix: '127.0.0.0', prefixLen: 8 } }] } } });
    expect(await talk(config([deny], echo.address))).to.equal('');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(echo.connections).to.equal(0);
    expect(rt!.telemetry.closed[0]).to.deep.include({ flags: [], details: 'rbac_access_denied_matched_policy[ns[db]-policy[no-local]-rule[0]]' });
  });

  it('proxies an allowed connection; ALLOW rules with no match deny', async () => {
    const allowPort = rbac({ action: 'ALLOW', policies: { p: { permissions: [{ destinationPort: 5432 }], principals: [{ any: true }] } } });
    expect(await talk(config([allowPort], echo.address))).to.equal('db:hi');
    await running!.close();
    await rt!.clusters.close();
    const needsMtls = rbac({ action: 'ALLOW', policies: { p: { permissions: [{ any: true }], principals: [{ authenticated: {} }] } } });
    expect(await talk(config([needsMtls], echo.address))).to.equal('');
    await until(() => rt!.telemetry.closed.length === 1);
    expect(rt!.telemetry.closed[0]!.details).to.equal('rbac_access_denied_matched_policy[none]');
  });

  it('simulate() runs the same network RBAC filters', () => {
    const pc = config([
      rbac({ action: 'DENY', policies: { deny: { permissions: [{ any: true }], principals: [{ authenticated: { principalName: { exact: 'spiffe://cluster.local/ns/x/sa/evil' } } }] } } }),
      rbac({ action: 'ALLOW', policies: { allow: { permissions: [{ any: true }], principals: [{ authenticated: { principalName: { prefix: 'spiffe://cluster.local/ns/x/' } } }] } } }),
    ], '10.1.1.1:5432');
    const at = (peerPrincipal?: string) => simulate(pc, { direction: 'inbound', port: 5432, destinationIp: '10.0.0.9', protocol: 'tcp', ...(peerPrincipal ? { peerPrincipal } : {}) }).authz;
    expect(at('spiffe://cluster.local/ns/x/sa/good')).to.deep.equal({ decision: 'allowed' });
    expect(at('spiffe://cluster.local/ns/x/sa/evil')).to.deep.include({ decision: 'denied', policy: 'deny', details: 'rbac_access_denied_matched_policy[deny]' });
    expect(at()).to.deep.include({ decision: 'denied', details: 'rbac_access_denied_matched_policy[none]' });
  });
});
