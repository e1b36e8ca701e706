// The local node's network: a "node" network namespace (weft-<id>-node) holding a bridge whose address is the pod
// CIDR's gateway, and one namespace per pod (weft-<id>-<n>) joined to it by a veth pair. Pod addresses exist only
// inside namespaces made here; the root namespace's interfaces and routes are never touched. Each pod's
// /etc/netns/<ns>/hosts and resolv.conf are what `ip netns exec` bind-mounts over /etc, so names resolve from
// hosts files (there is no DNS). An owner file under /run/weft lets cleanupStale() remove what a crashed run left.
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export interface PodNet {
  ns: string;
  ip: string;
  /** The node-side end of the pod's veth pair (inside the node namespace, attached to the bridge). */
  veth: string;
}

type Log = (line: string) => void;

const OWNERS = '/run/weft';
const BRIDGE = 'weft0';

function ip(args: string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  } catch (e) {
    const err = e as { stderr?: string; message?: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr || err.message || String(e)).trim()}`, { cause: e });
  }
}

const quiet = (f: () => unknown) => {
  try { f(); } catch { /* already gone */ }
};

function toInt(addr: string): number {
  const p = addr.split('.').map(Number);
  if (p.length !== 4 || p.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) throw new Error(`not an IPv4 address: ${addr}`);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}
const toAddr = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** The process's start time (field 22 of /proc/<pid>/stat), so a reused pid is not taken for the owner. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Names of every network namespace, from `ip netns list` ("name (id: 3)"). */
function netnsNames(): string[] {
  return ip(['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** Writes a file in place (same inode): `ip netns exec` bind-mounted it, and a new inode would go unseen. */
function writeInPlace(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r+');
  } catch {
    fd = openSync(path, 'w');
  }
  try {
    const buf = Buffer.from(text);
    // Content first, then the cut: a reader never sees an empty file.
    writeSync(fd, buf, 0, buf.length, 0);
    ftruncateSync(fd, buf.length);
  } finally {
    closeSync(fd);
  }
}

const live = new Set<NodeNetwork>();
process.once('exit', () => {
  for (const n of live) n.destroy();
});

export class NodeNetwork {
  readonly id: string;
  readonly nodeNs: string;
  readonly gateway: string;
  readonly prefix: number;
  private readonly base: number;
  private readonly size: number;
  private readonly used = new Set<number>();
  private readonly pods = new Map<string, PodNet>();
  private next = 0;
  private readonly log: Log;

  private constructor(id: string, podCidr: string, log: Log) {
    const [addr, bits] = podCidr.split('/');
    this.prefix = Number(bits);
    if (!(this.prefix >= 8 && this.prefix <= 29)) throw new Error(`pod CIDR ${podCidr}: prefix must be /8../29`);
    this.size = 2 ** (32 - this.prefix);
    this.base = (toInt(addr!) & ~(this.size - 1)) >>> 0;
    this.gateway = toAddr(this.base + 1);
    this.id = id;
    this.nodeNs = `weft-${id}-node`;
    this.log = log;
  }

  static create(opts: { id: string; podCidr?: string; log?: Log }): NodeNetwork {
    if (!/^[a-z0-9]{1,8}$/.test(opts.id)) throw new Error(`node network id ${opts.id}: 1-8 lowercase letters or digits`);
    NodeNetwork.cleanupStale();
    const n = new NodeNetwork(opts.id, opts.podCidr ?? '10.244.0.0/24', opts.log ?? (() => {}));
    mkdirSync(OWNERS, { recursive: true });
    writeFileSync(join(OWNERS, `node-${n.id}.json`), JSON.stringify({ pid: process.pid, start: startTime(process.pid) }));
    live.add(n);
    try {
      ip(['netns', 'add', n.nodeNs]);
      ip(['-n', n.nodeNs, 'link', 'set', 'lo', 'up']);
      ip(['-n', n.nodeNs, 'link', 'add', BRIDGE, 'type', 'bridge']);
      ip(['-n', n.nodeNs, 'addr', 'add', `${n.gateway}/${n.prefix}`, 'dev', BRIDGE]);
      ip(['-n', n.nodeNs, 'link', 'set', BRIDGE, 'up']);
      // /proc/sys/net is per namespace: this is the node namespace's forwarding, not the host's.
      ip(['netns', 'exec', n.nodeNs, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    } catch (e) {
      n.destroy();
      throw e;
    }
    n.log(`node network ${n.nodeNs}: bridge ${BRIDGE} ${n.gateway}/${n.prefix}`);
    return n;
  }

  /** A new pod namespace joined to the bridge, with the lowest free address; `key` only names it in logs. */
  addPod(key: string): PodNet {
    let host = 2;
    while (this.used.has(host)) host++;
    if (host >= this.size - 1) throw new Error(`pod CIDR of ${this.nodeNs} is full`);
    const n = this.next++;
    const pod: PodNet = { ns: `weft-${this.id}-${n}`, ip: toAddr(this.base + host), veth: `wv${this.id}-${n}` };
    if (pod.veth.length > 15) throw new Error(`interface name ${pod.veth} is longer than 15 characters`);
    this.used.add(host);
    this.pods.set(pod.ns, pod);
    try {
      // The files must exist before any `ip netns exec` into the pod, which bind-mounts them only if present.
      mkdirSync(`/etc/netns/${pod.ns}`, { recursive: true });
      this.writeHosts(pod, key.replace(/[^A-Za-z0-9.-]/g, '-'), []);
      ip(['netns', 'add', pod.ns]);
      ip(['-n', pod.ns, 'link', 'set', 'lo', 'up']);
      ip(['-n', this.nodeNs, 'link', 'add', pod.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.ns]);
      ip(['-n', this.nodeNs, 'link', 'set', pod.veth, 'master', BRIDGE]);
      ip(['-n', this.nodeNs, 'link', 'set', pod.veth, 'up']);
      ip(['-n', pod.ns, 'addr', 'add', `${pod.ip}/${this.prefix}`, 'dev', 'eth0']);
      ip(['-n', pod.ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', pod.ns, 'route', 'add', 'default', 'via', this.gateway]);
    } catch (e) {
      this.removePod(pod);
      throw e;
    }
    this.log(`pod network ${key}: ${pod.ns} ${pod.ip} (${pod.veth})`);
    return pod;
  }

  /**
   * An address of a host outside the cluster, reachable from every pod through the node namespace, which holds it:
   * servers started in the node namespace on it stand for the outside world in tests.
   */
  addExternalAddress(addr: string): void {
    // On the node namespace's loopback: local there, so packets routed in from the pods are delivered (no dummy
    // interface needed, which not every kernel has).
    quiet(() => ip(['-n', this.nodeNs, 'addr', 'add', `${addr}/32`, 'dev', 'lo']));
  }

  /** The pod's hosts file (localhost, its own address and name, then `entries`) and a resolv.conf without DNS. */
  writeHosts(pod: PodNet, hostname: string, entries: Array<{ ip: string; names: string[] }>): void {
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', `${pod.ip}\t${hostname}`];
    for (const e of entries) if (e.names.length > 0) lines.push(`${e.ip}\t${e.names.join(' ')}`);
    writeInPlace(`/etc/netns/${pod.ns}/hosts`, `${lines.join('\n')}\n`);
    writeInPlace(`/etc/netns/${pod.ns}/resolv.conf`, 'nameserver 127.0.0.1\noptions ndots:5 timeout:1 attempts:1\n');
  }

  /** Removes the pod's namespace, veth and /etc/netns files (its processes must already be gone) and frees its address. */
  removePod(pod: PodNet): void {
    // Deleting the veth explicitly: a namespace still held by a stray process would otherwise keep it.
    quiet(() => ip(['-n', this.nodeNs, 'link', 'del', pod.veth]));
    quiet(() => ip(['netns', 'del', pod.ns]));
    rmSync(`/etc/netns/${pod.ns}`, { recursive: true, force: true });
    if (this.pods.delete(pod.ns)) this.used.delete(toInt(pod.ip) - this.base);
  }

  listPods(): PodNet[] {
    return [...this.pods.values()];
  }

  destroy(): void {
    for (const pod of [...this.pods.values()]) this.removePod(pod);
    NodeNetwork.removeAll(this.id);
    live.delete(this);
  }

  /**
   * Removes the namespaces, /etc/netns directories and owner files of node networks whose owner process is gone
   * (or, given `id`, of that one network if its owner is gone). Names are matched only for ids that have a node
   * namespace or an owner file, so other weft-* namespaces (the netns tests') are left alone.
   */
  static cleanupStale(id?: string): void {
    if (process.platform !== 'linux') return;
    const ids = new Set<string>();
    for (const name of netnsNames()) {
      const m = /^weft-([a-z0-9]+)-node$/.exec(name);
      if (m) ids.add(m[1]!);
    }
    let owners: string[] = [];
    try { owners = readdirSync(OWNERS); } catch { /* none */ }
    for (const f of owners) {
      const m = /^node-([a-z0-9]+)\.json$/.exec(f);
      if (m) ids.add(m[1]!);
    }
    for (const i of ids) {
      if (id !== undefined && i !== id) continue;
      let owner: { pid?: number; start?: string } = {};
      try { owner = JSON.parse(readFileSync(join(OWNERS, `node-${i}.json`), 'utf8')) as typeof owner; } catch { /* no owner: stale */ }
      const alive = owner.pid !== undefined && startTime(owner.pid) !== undefined && startTime(owner.pid) === owner.start;
      if (!alive) NodeNetwork.removeAll(i);
    }
  }

  /** Every namespace and file of network `id`, pods first (their veths die with them), the node last. */
  private static removeAll(id: string): void {
    const pattern = new RegExp(`^weft-${id}-(node|\\d+)$`);
    const names = netnsNames().filter((n) => pattern.test(n));
    names.sort((a, b) => Number(a.endsWith('-node')) - Number(b.endsWith('-node')));
    for (const n of names) quiet(() => ip(['netns', 'del', n]));
    let dirs: string[] = [];
    try { dirs = readdirSync('/etc/netns'); } catch { /* none */ }
    for (const d of dirs) if (pattern.test(d)) rmSync(join('/etc/netns', d), { recursive: true, force: true });
    rmSync(join(OWNERS, `node-${id}.json`), { force: true });
  }
}
