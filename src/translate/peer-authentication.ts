// PeerAuthentication → the mutual TLS mode a workload's port accepts, with Istio's precedence: a policy selecting
// the workload (oldest first when several do; its portLevelMtls for that port) over the namespace's policy over
// the mesh policy in the root namespace; UNSET inherits from the level above; nothing at all means PERMISSIVE.
// Pure: snapshot in, mode out; the policies consulted are recorded as inputs.
import { compare, creationOf, selectorMatches, stringMap } from '../model/kube.ts';
import type { Labels, Snapshot } from '../model/types.ts';
import type { PeerAuthentication } from '../api/peerauthentication.ts';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

type Mode = MtlsMode | 'UNSET' | undefined;

const set = (m: Mode): m is MtlsMode => m !== undefined && m !== 'UNSET';

const keyOf = (pa: PeerAuthentication): string => `PeerAuthentication/${pa.metadata?.namespace ?? ''}/${pa.metadata?.name ?? ''}`;

function oldest(list: PeerAuthentication[]): PeerAuthentication | undefined {
  return list.sort((a, b) => compare(creationOf(a), creationOf(b)) || compare(keyOf(a), keyOf(b)))[0];
}

const selectorOf = (pa: PeerAuthentication): Labels => stringMap(pa.spec?.selector?.matchLabels);
const hasSelector = (pa: PeerAuthentication): boolean => Object.keys(selectorOf(pa)).length > 0;

/** The policies that decide a workload's mode: mesh, namespace and workload level (each may be missing). */
export function peerAuthenticationsFor(snapshot: Snapshot, namespace: string, labels: Labels): PeerAuthentication[] {
  const all = snapshot.config.peerAuthentications;
  const inNs = (ns: string) => all.filter((pa) => (pa.metadata?.namespace ?? '') === ns);
  const mesh = oldest(inNs(snapshot.options.rootNamespace).filter((pa) => !hasSelector(pa)));
  const local = inNs(namespace);
  const ns = namespace === snapshot.options.rootNamespace ? undefined : oldest(local.filter((pa) => !hasSelector(pa)));
  const workload = oldest(local.filter((pa) => hasSelector(pa) && selectorMatches(selectorOf(pa), labels)));
  return [mesh, ns, workload].filter((pa): pa is PeerAuthentication => pa !== undefined);
}

/** The mode of one port (the port the application listens on) of a workload with these labels. */
export function mtlsModeFor(snapshot: Snapshot, namespace: string, labels: Labels, port: number, use?: (key: string) => void): MtlsMode {
  let mode: MtlsMode = 'PERMISSIVE';
  for (const pa of peerAuthenticationsFor(snapshot, namespace, labels)) {
    use?.(keyOf(pa));
    const m: Mode = pa.spec?.mtls?.mode;
    if (set(m)) mode = m;
    // portLevelMtls only counts on a policy with a selector (validation refuses it elsewhere).
    const p: Mode = hasSelector(pa) ? pa.spec?.portLevelMtls?.[String(port)]?.mode : undefined;
    if (set(p)) mode = p;
  }
  return mode;
}
