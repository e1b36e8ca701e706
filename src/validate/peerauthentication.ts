// Semantic validation of PeerAuthentication. In: the resource as stored; out: errors (refused) and warnings.
// Covers the CRD's CEL rules (port keys, portLevelMtls needs a selector, selector syntax) so the offline path,
// which has no CEL, refuses the same objects, plus the checks the mesh makes beyond the schema.
import type { PeerAuthentication } from '../api/peerauthentication.ts';
import { DEFAULT_MESH_OPTIONS } from '../model/types.ts';
import { checkWorkloadSelector, selectorHasLabels } from './policy-scope.ts';
import { Findings, type ValidationResult } from './result.ts';

const MODES = ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT'];

export interface PeerAuthenticationOptions {
  /** The mesh root namespace: a policy there without selector applies to the whole mesh. */
  rootNamespace?: string;
}

function checkMode(f: Findings, path: string, mode: unknown): void {
  if (mode === undefined) return;
  if (typeof mode !== 'string' || !MODES.includes(mode)) {
    f.error(path, `mode must be one of ${MODES.join(', ')}; got ${JSON.stringify(mode)}`);
  }
}

export function validatePeerAuthentication(obj: PeerAuthentication, opts: PeerAuthenticationOptions = {}): ValidationResult {
  const f = new Findings();
  const spec = obj.spec ?? {};
  const rootNamespace = opts.rootNamespace ?? DEFAULT_MESH_OPTIONS.rootNamespace;
  const workloadPolicy = selectorHasLabels(spec.selector);

  checkWorkloadSelector(f, 'spec.selector', spec.selector);
  const mode = spec.mtls?.mode;
  checkMode(f, 'spec.mtls.mode', mode);

  const ports = spec.portLevelMtls;
  if (ports !== undefined && ports !== null) {
    if (!workloadPolicy) {
      // A port number only means something for a known set of workloads.
      f.error('spec.portLevelMtls', 'portLevelMtls requires selector with at least one matchLabels entry; ' +
        'namespace-wide and mesh-wide policies cannot set per-port modes');
    }
    const keys = Object.keys(ports);
    if (keys.length === 0) f.error('spec.portLevelMtls', 'portLevelMtls, when set, must list at least one port');
    if (keys.length > 256) f.error('spec.portLevelMtls', 'portLevelMtls may list at most 256 ports');
    for (const key of keys) {
      const path = `spec.portLevelMtls[${key}]`;
      const n = Number(key);
      if (!/^[0-9]{1,5}$/.test(key) || n < 1 || n > 65535) {
        f.error(path, `portLevelMtls keys must be port numbers between 1-65535; got "${key}"`);
      }
      checkMode(f, `${path}.mode`, ports[key]?.mode);
      if (ports[key]?.mode === undefined || ports[key]?.mode === 'UNSET') {
        f.warn(path, 'the port sets no mode (UNSET), so it simply inherits the workload setting');
      }
    }
  }

  const noMode = mode === undefined || mode === 'UNSET';
  if (noMode && (ports === undefined || ports === null)) {
    f.warn('spec.mtls.mode', 'no mTLS mode is set (UNSET inherits from the parent policy), so this policy changes nothing');
  }
  const meshWide = !workloadPolicy && obj.metadata?.namespace === rootNamespace;
  if (meshWide && mode === 'DISABLE') {
    f.warn('spec.mtls.mode', `this mesh-wide policy (in root namespace ${rootNamespace}) turns mutual TLS off for every workload`);
  }
  return f.result();
}
