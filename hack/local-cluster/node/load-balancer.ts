// The local cluster's "cloud" load balancer: every Service of type LoadBalancer gets an address from 127.0.1.0/24
// on this machine's loopback (written to status.loadBalancer.ingress), where each of its ports accepts TCP and
// forwards every connection to a ready endpoint of that port (from its EndpointSlices), through the node agent's
// tunnel into the pod network. So `curl http://127.0.1.1/` from the host reaches an ingress gateway pod. The same
// Service and EndpointSlice caches drive the node's ClusterIP rules (service-proxy.ts).
import { connect, createServer, type Server, type Socket } from 'node:net';
import {
  CoreV1Api, DiscoveryV1Api, makeInformer, PatchStrategy, setHeaderOptions,
  type KubeConfig, type V1Service, type V1EndpointSlice,
} from '@kubernetes/client-node';
import type { ServiceProxy } from './service-proxy.ts';
import { closeTogether } from './splice.ts';

interface Balanced {
  ip: string;
  servers: Server[];
  signature: string;
}

export class LoadBalancers {
  private readonly kc: KubeConfig;
  private readonly tunnelPath: string;
  private readonly log: (l: string) => void;
  private readonly active = new Map<string, Balanced>();
  private readonly slices = new Map<string, V1EndpointSlice>();
  private readonly services = new Map<string, V1Service>();
  private readonly serviceProxy?: ServiceProxy;
  private proxyTimer?: NodeJS.Timeout;
  private informers: Array<{ stop(): Promise<void> | void }> = [];
  private stopped = false;

  constructor(o: { kc: KubeConfig; tunnelPath: string; serviceProxy?: ServiceProxy; log?: (l: string) => void }) {
    this.kc = o.kc;
    this.serviceProxy = o.serviceProxy;
    this.tunnelPath = o.tunnelPath;
    this.log = o.log ?? (() => {});
  }

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(CoreV1Api);
    const discovery = this.kc.makeApiClient(DiscoveryV1Api);
    const svc = makeInformer(this.kc, '/api/v1/services', () => core.listServiceForAllNamespaces());
    const eps = makeInformer(this.kc, '/apis/discovery.k8s.io/v1/endpointslices', () => discovery.listEndpointSliceForAllNamespaces());
    const key = (o: { metadata?: { namespace?: string; name?: string } }) => `${o.metadata?.namespace}/${o.metadata?.name}`;
    svc.on('add', (s) => void this.onService(key(s), s));
    svc.on('update', (s) => void this.onService(key(s), s));
    svc.on('delete', (s) => void this.onService(key(s), undefined));
    eps.on('add', (e) => this.slices.set(key(e), e) && this.rulesSoon());
    eps.on('update', (e) => this.slices.set(key(e), e) && this.rulesSoon());
    eps.on('delete', (e) => this.slices.delete(key(e)) && this.rulesSoon());
    for (const inf of [svc, eps] as Array<typeof svc | typeof eps>) {
      inf.on('error', () => setTimeout(() => !this.stopped && void inf.start(), 1000));
      await inf.start();
    }
    this.informers = [svc, eps];
  }

  private freeIp(): string {
    const used = new Set([...this.active.values()].map((b) => b.ip));
    for (let i = 1; i < 255; i++) if (!used.has(`127.0.1.${i}`)) return `127.0.1.${i}`;
    throw new Error('no free load balancer address in 127.0.1.0/24');
  }

  /** The ClusterIP rules follow Services and endpoints, a burst of changes making one update. */
  private rulesSoon(): void {
    if (!this.serviceProxy || this.stopped) return;
    clearTimeout(this.proxyTimer);
    this.proxyTimer = setTimeout(() => this.serviceProxy!.update(this.services.values(), this.slices.values()), 50);
  }

  private async onService(key: string, s: V1Service | undefined): Promise<void> {
    if (this.stopped) return;
    if (s) this.services.set(key, s);
    else this.services.delete(key);
    this.rulesSoon();
    const want = s?.spec?.type === 'LoadBalancer' ? s : undefined;
    const signature = JSON.stringify(want?.spec?.ports?.map((p) => [p.port, p.protocol]) ?? null);
    const current = this.active.get(key);
    if (current && current.signature === signature) return;
    if (current) {
      for (const srv of current.servers) srv.close();
      this.active.delete(key);
    }
    if (!want) return;
    const ip = current?.ip ?? this.freeIp();
    const servers: Server[] = [];
    for (const p of want.spec!.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      const srv = createServer((c) => this.forward(key, p.name ?? '', c));
      await new Promise<void>((resolve) => {
        srv.once('error', (e) => {
          this.log(`load balancer ${key}: cannot listen on ${ip}:${p.port}: ${e.message}`);
          resolve();
        });
        srv.listen(p.port, ip, () => resolve());
      });
      servers.push(srv);
    }
    this.active.set(key, { ip, servers, signature });
    this.log(`load balancer ${key}: ${ip} ports ${(want.spec!.ports ?? []).map((p) => p.port).join(',')}`);
    const [namespace, name] = key.split('/') as [string, string];
    await this.kc.makeApiClient(CoreV1Api)
      .patchNamespacedServiceStatus({ name, namespace, body: { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))
      .catch((e: Error) => this.log(`load balancer ${key}: status: ${e.message}`));
  }

  /** A ready endpoint of the Service's port named `portName`, chosen at random (as kube-proxy's random mode). */
  private pick(key: string, portName: string): { ip: string; port: number } | undefined {
    const [ns, name] = key.split('/');
    const candidates: Array<{ ip: string; port: number }> = [];
    for (const sl of this.slices.values()) {
      if (sl.metadata?.namespace !== ns || sl.metadata?.labels?.['kubernetes.io/service-name'] !== name) continue;
      const port = sl.ports?.find((p) => (p.name ?? '') === portName)?.port;
      if (!port) continue;
      for (const e of sl.endpoints ?? []) if (e.conditions?.ready !== false) for (const a of e.addresses) candidates.push({ ip: a, port });
    }
    return candidates[Math.floor(Math.random() * candidates.length)];
  }

  private forward(key: string, portName: string, client: Socket): void {
    const to = this.pick(key, portName);
    if (!to) {
      client.destroy();
      return;
    }
    const upstream = connect(this.tunnelPath, () => {
      upstream.write(`${to.ip}:${to.port}\n`);
      client.pipe(upstream).pipe(client);
    });
    closeTogether(client, upstream);
  }

  /** The address given to Service `namespace/name`, once it has one. */
  address(namespace: string, name: string): string | undefined {
    return this.active.get(`${namespace}/${name}`)?.ip;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.proxyTimer);
    await Promise.all(this.informers.map((i) => i.stop()));
    for (const b of this.active.values()) for (const s of b.servers) s.close();
    this.active.clear();
  }
}
