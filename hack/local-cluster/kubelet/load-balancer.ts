// A tiny LoadBalancer controller: every Service of type LoadBalancer gets one address from LB_POOL
// (10.200.1.0/24) in status.loadBalancer.ingress. The host routes the pool to node 1 (host-network.ts), and
// node 1's kube-proxy matches those destination IPs in its KUBE-SERVICES chain and forwards to the Service's
// endpoints on any node. So from the host, <ingress IP>:<port> reaches the Service.
import type { ControlPlane } from '../control-plane.ts';

interface Svc {
  metadata: { namespace: string; name: string };
  spec: { type?: string };
  status?: { loadBalancer?: { ingress?: Array<{ ip?: string }> } };
}

const FIRST = 10;
const LAST = 250;
const poolIp = (n: number) => `10.200.1.${n}`;

export interface LoadBalancerController {
  stop(): Promise<void>;
}

export function startLoadBalancerController(cp: ControlPlane, log: (l: string) => void = () => {}): LoadBalancerController {
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await reconcile(cp, log).catch((e: unknown) => log(`load balancer: ${(e as Error).message}`));
      await new Promise((r) => setTimeout(r, 1000));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

async function reconcile(cp: ControlPlane, log: (l: string) => void): Promise<void> {
  const r = await cp.kubectlAsync(['get', 'services', '-A', '-o', 'json']);
  if (r.status !== 0) throw new Error(r.stderr.trim());
  const lbs = (JSON.parse(r.stdout) as { items: Svc[] }).items.filter((s) => s.spec.type === 'LoadBalancer');
  const used = new Set(lbs.flatMap((s) => s.status?.loadBalancer?.ingress?.map((i) => i.ip) ?? []));
  for (const s of lbs.filter((x) => !x.status?.loadBalancer?.ingress?.length)) {
    let n = FIRST;
    while (n <= LAST && used.has(poolIp(n))) n++;
    if (n > LAST) throw new Error('the LoadBalancer pool is exhausted');
    const ip = poolIp(n);
    const patch = JSON.stringify({ status: { loadBalancer: { ingress: [{ ip }] } } });
    const p = await cp.kubectlAsync(['patch', 'service', '-n', s.metadata.namespace, s.metadata.name, '--subresource=status', '--type=merge', '-p', patch]);
    if (p.status !== 0) throw new Error(`patching ${s.metadata.namespace}/${s.metadata.name}: ${p.stderr.trim()}`);
    used.add(ip);
    log(`load balancer: ${s.metadata.namespace}/${s.metadata.name} -> ${ip}`);
  }
}
