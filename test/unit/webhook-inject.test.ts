// Sidecar injection as a pure function: which pods are injected, what the patch adds (applied with a small
// JSONPatch implementation to see the resulting pod), annotation overrides, probe rewriting, idempotence, and
// the AdmissionReview answer carrying the patch.
import { expect } from 'chai';
import type { KubeObject } from '../../src/model/types.ts';
import { SIDECAR_NODE_FLAGS } from '../../src/proxy/node-flags.ts';
import { injectResponse } from '../../src/webhooks/inject-admission.ts';
import { injectPod, STATUS_ANNOTATION, type PatchOp } from '../../src/webhooks/inject.ts';
import type { InjectOptions } from '../../src/webhooks/inject-options.ts';

type Obj = Record<string, unknown>;
type C = { name: string; [k: string]: unknown };

/** add/replace per RFC 6902 (what the injector emits), on a deep copy. */
function applyPatch<T>(doc: T, ops: PatchOp[]): T {
  const out = structuredClone(doc) as unknown;
  for (const op of ops) {
    const parts = op.path.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let parent = out as Obj | unknown[];
    for (const p of parts) parent = (Array.isArray(parent) ? parent[Number(p)] : parent[p]) as Obj | unknown[];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      if (op.op === 'add') parent.splice(i, 0, op.value);
      else parent[i] = op.value;
    } else {
      if (op.op === 'replace') expect(parent, op.path).to.have.property(last);
      parent[last] = op.value;
    }
  }
  return out as T;
}

const injected = { 'weft-injection': 'enabled' };

function rsPod(extra: { annotations?: Record<string, string>; spec?: Obj } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'reviews-v1-5d8f7c9b6-',
      namespace: 'shop',
      labels: { app: 'reviews', 'pod-template-hash': '5d8f7c9b6' },
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'reviews-v1-5d8f7c9b6', uid: 'u1', controller: true }],
    },
    spec: { serviceAccountName: 'bookinfo-reviews', containers: [{ name: 'app', image: 'reviews:1', ports: [{ name: 'http', containerPort: 9080 }] }], ...extra.spec },
  } as KubeObject;
}

function inject(pod: KubeObject, labels: Record<string, string> | undefined = injected, opts: InjectOptions = {}) {
  const r = injectPod(pod, labels, opts);
  if (r.action !== 'inject') throw new Error(`expected injection, got ${r.reason}`);
  return { ...r, pod: applyPatch(pod, r.patch) as KubeObject & { spec: { initContainers?: C[]; containers: C[]; volumes: Obj[] } } };
}

const env = (c: C) => Object.fromEntries((c.env as Array<{ name: string; value?: string; valueFrom?: { fieldRef: { fieldPath: string } } }>).map((e) => [e.name, e.value ?? e.valueFrom!.fieldRef.fieldPath]));

describe('sidecar injection (webhooks/inject)', () => {
  it('adds weft-init and a native weft-proxy sidecar, named after the Deployment, to a pod in a labelled namespace', () => {
    const { pod, workload } = inject(rsPod());
    expect(workload).to.equal('reviews-v1');
    const [init, proxy, ...rest] = pod.spec.initContainers!;
    expect(rest).to.deep.equal([]);
    expect(init!.name).to.equal('weft-init');
    expect(init!.securityContext).to.deep.include({ runAsUser: 0, capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] } });
    expect((init!.command as string[]).join(' ')).to.include('capture iptables 127.0.0.1/32').and.include('capture ip6tables ::1/128');
    expect(env(init!)).to.include({ WEFT_INBOUND_EXCLUDE: '15000 15001 15006 15020 15021 15090', WEFT_OUTBOUND_EXCLUDE: '', WEFT_PROXY_UID: '1337' });

    expect(proxy!.name).to.equal('weft-proxy');
    expect(proxy!.restartPolicy).to.equal('Always');
    expect(proxy!.command).to.deep.equal(['node', ...SIDECAR_NODE_FLAGS, 'dist/cli/weft.js', 'proxy']);
    expect(proxy!.args).to.include.members(['--config-dir', '/etc/weft/proxy', '--identity-dir', '/etc/weft/identity']);
    expect(proxy!.securityContext).to.deep.include({ runAsUser: 1337, runAsNonRoot: true });
    // The kubelet probes the health port; the admin endpoint (which can stop the proxy) stays on loopback.
    expect(proxy!.readinessProbe).to.deep.include({ httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' } });
    expect(proxy!.startupProbe).to.deep.include({ httpGet: { path: '/healthz/ready', port: 15021, scheme: 'HTTP' } });
    const args = proxy!.args as string[];
    expect(args[args.indexOf('--admin') + 1]).to.equal('127.0.0.1:15000');
    expect(args[args.indexOf('--health') + 1]).to.equal('0.0.0.0:15021');
    expect(args[args.indexOf('--status') + 1]).to.equal('0.0.0.0:15020');
    expect(proxy!.resources).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' } });
    expect(env(proxy!)).to.deep.equal({ POD_NAME: 'metadata.name', POD_NAMESPACE: 'metadata.namespace', SERVICE_ACCOUNT: 'spec.serviceAccountName', INSTANCE_IP: 'status.podIP' });
    expect(proxy!.volumeMounts).to.deep.include({ name: 'weft-identity', mountPath: '/etc/weft/identity', readOnly: true });

    expect(pod.spec.volumes).to.deep.equal([
      { name: 'weft-proxy-config', configMap: { name: 'weft-proxy-reviews-v1', optional: true } },
      { name: 'weft-identity', secret: { secretName: 'weft-identity-bookinfo-reviews', optional: true } },
      { name: 'weft-root-cert', configMap: { name: 'weft-root-cert', optional: true } },
    ]);
    expect(pod.spec.containers.map((c) => c.name)).to.deep.equal(['app']);
    expect(JSON.parse(pod.metadata!.annotations![STATUS_ANNOTATION]!)).to.include({ workload: 'Deployment/reviews-v1' });
  });

  it('keeps the pod\'s own init containers, volumes and annotations, after weft-init and the proxy', () => {
    const { pod } = inject(rsPod({
      annotations: { team: 'shop' },
      spec: { initContainers: [{ name: 'migrate', image: 'm' }], volumes: [{ name: 'data', emptyDir: {} }] },
    }));
    expect(pod.spec.initContainers!.map((c) => c.name)).to.deep.equal(['weft-init', 'weft-proxy', 'migrate']);
    expect(pod.spec.volumes.map((v) => v.name)).to.deep.equal(['data', 'weft-proxy-config', 'weft-identity', 'weft-root-cert']);
    expect(pod.metadata!.annotations).to.include({ team: 'shop' }).and.to.have.property(STATUS_ANNOTATION);
  });

  it('injects for istio-injection=enabled too, and not for unlabelled namespaces or pods that opt out', () => {
    expect(injectPod(rsPod(), { 'istio-injection': 'enabled' }).action).to.equal('inject');
    expect(injectPod(rsPod(), {})).to.deep.include({ action: 'skip', reason: 'not-enabled' });
    expect(injectPod(rsPod(), undefined)).to.deep.include({ action: 'skip', reason: 'not-enabled' });
    expect(injectPod(rsPod(), { 'weft-injection': 'disabled' })).to.deep.include({ action: 'skip', reason: 'not-enabled' });
    expect(injectPod(rsPod({ annotations: { 'sidecar.weft.dev/inject': 'false' } }), injected)).to.deep.include({ action: 'skip', reason: 'not-enabled' });
  });

  it('never injects a gateway pod (weft.dev/proxy-mode: gateway): it is a proxy itself', () => {
    const gateway = rsPod({ annotations: { 'weft.dev/proxy-mode': 'gateway' } });
    expect(injectPod(gateway, injected)).to.deep.equal({ action: 'skip', reason: 'gateway', warnings: [] });
    expect(injectPod(gateway, { 'istio-injection': 'enabled' })).to.deep.include({ action: 'skip', reason: 'gateway' });
  });

  it('changes nothing on a pod that already carries the proxy (re-invocation), in either mode', () => {
    for (const mode of ['native', 'container'] as const) {
      const { pod } = inject(rsPod(), injected, { mode });
      expect(injectPod(pod, injected, { mode })).to.deep.equal({ action: 'skip', reason: 'already-injected', warnings: [] });
    }
  });

  it('runs the proxy as the first regular container, held ready by a postStart hook, in container mode', () => {
    const { pod } = inject(rsPod({ spec: { initContainers: [{ name: 'migrate', image: 'm' }] } }), injected, { mode: 'container' });
    expect(pod.spec.initContainers!.map((c) => c.name)).to.deep.equal(['weft-init', 'migrate']);
    const [proxy, app] = pod.spec.containers;
    expect(proxy!.name).to.equal('weft-proxy');
    expect(app!.name).to.equal('app');
    expect(proxy).to.not.have.property('restartPolicy');
    expect(proxy).to.not.have.property('startupProbe');
    const hook = (proxy!.lifecycle as { postStart: { exec: { command: string[] } } }).postStart.exec.command;
    expect(hook.slice(0, 2)).to.deep.equal(['node', '-e']);
    expect(hook[2]).to.include('http://127.0.0.1:15000/ready');
  });

  it('rewrites httpGet probes to the status port and hands the originals to the proxy', () => {
    const app = {
      name: 'app',
      image: 'x',
      ports: [{ name: 'http', containerPort: 9080 }],
      readinessProbe: { httpGet: { path: '/health', port: 'http' }, periodSeconds: 3, timeoutSeconds: 2 },
      livenessProbe: { exec: { command: ['true'] } },
    };
    const side = { name: 'side', image: 'y', startupProbe: { httpGet: { path: '/up', port: 8081, scheme: 'HTTPS' } } };
    const before = rsPod({ spec: { containers: [app, side] } });
    const { pod } = inject(before, injected, { mode: 'container' });
    const [proxy, a, s] = pod.spec.containers;
    expect(a!.readinessProbe).to.deep.equal({ httpGet: { path: '/app-health/app/readyz', port: 15020, scheme: 'HTTP' }, periodSeconds: 3, timeoutSeconds: 2 });
    expect(a!.livenessProbe).to.deep.equal(app.livenessProbe);
    expect(s!.startupProbe).to.deep.equal({ httpGet: { path: '/app-health/side/startupz', port: 15020, scheme: 'HTTP' } });
    expect(JSON.parse(env(proxy!).WEFT_APP_PROBERS!)).to.deep.equal({
      '/app-health/app/readyz': { httpGet: { path: '/health', port: 9080 }, timeoutSeconds: 2 },
      '/app-health/side/startupz': { httpGet: { path: '/up', port: 8081, scheme: 'HTTPS' } },
    });

    const off = inject(rsPod({ annotations: { 'sidecar.istio.io/rewriteAppHTTPProbers': 'false' }, spec: { containers: [app] } })).pod;
    expect(off.spec.containers[0]!.readinessProbe).to.deep.equal(app.readinessProbe);
    expect(inject(before, injected, { rewriteProbes: false }).pod.spec.containers[0]!.readinessProbe).to.deep.equal(app.readinessProbe);
  });

  it('takes resources, log level and excluded ports from Istio\'s annotations or weft\'s spelling, ignoring bad values', () => {
    const { pod, warnings } = inject(rsPod({
      annotations: {
        'sidecar.istio.io/proxyCPU': '250m',
        'sidecar.weft.dev/proxyMemory': '256Mi',
        'sidecar.istio.io/logLevel': 'warning',
        'traffic.sidecar.istio.io/excludeOutboundPorts': '5432, 6379,6379',
        'traffic.sidecar.weft.dev/excludeInboundPorts': '8443,$(reboot),70000',
      },
    }));
    const [init, proxy] = pod.spec.initContainers!;
    expect(proxy!.resources).to.deep.equal({ requests: { cpu: '250m', memory: '256Mi' } });
    expect((proxy!.args as string[]).slice(-2)).to.deep.equal(['--log-level', 'warn']);
    expect(env(init!)).to.include({ WEFT_OUTBOUND_EXCLUDE: '5432 6379', WEFT_INBOUND_EXCLUDE: '15000 15001 15006 15020 15021 15090 8443' });
    expect(warnings).to.have.length(2);
    expect(warnings.join('\n')).to.include('$(reboot)').and.include('70000');

    const bad = inject(rsPod({ annotations: { 'sidecar.istio.io/proxyCPU': 'lots', 'sidecar.weft.dev/logLevel': 'loud' } }));
    expect(bad.pod.spec.initContainers![1]!.resources).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' } });
    expect(bad.warnings).to.have.length(2);
  });

  it('sets the proxy\'s limits from proxyCPULimit / proxyMemoryLimit, bringing a default request above a limit down to it', () => {
    const { pod, warnings } = inject(rsPod({ annotations: { 'sidecar.istio.io/proxyCPULimit': '2', 'sidecar.istio.io/proxyMemoryLimit': '96Mi' } }));
    expect(pod.spec.initContainers![1]!.resources).to.deep.equal({ requests: { cpu: '100m', memory: '96Mi' }, limits: { cpu: '2', memory: '96Mi' } });
    expect(warnings).to.deep.equal(['proxy memory request 128Mi is above its limit 96Mi; requesting 96Mi']);
    const bad = inject(rsPod({ annotations: { 'sidecar.weft.dev/proxyMemoryLimit': 'plenty' } }));
    expect(bad.pod.spec.initContainers![1]!.resources).to.deep.equal({ requests: { cpu: '100m', memory: '128Mi' } });
    expect(bad.warnings.join()).to.include('sidecar.weft.dev/proxyMemoryLimit').and.include('using none');
  });

  it('adds user volumes to the pod and mounts them in the proxy (userVolume / userVolumeMount, array or map form)', () => {
    const { pod, warnings } = inject(rsPod({
      annotations: {
        'sidecar.istio.io/userVolume': '[{"name":"outside-ca","secret":{"secretName":"outside-ca"}},{"name":"weft-identity","emptyDir":{}}]',
        'sidecar.istio.io/userVolumeMount': '{"outside-ca":{"mountPath":"/etc/outside-ca","readonly":true},"nope":{"mountPath":"/x"}}',
      },
    }));
    const proxy = pod.spec.initContainers![1]!;
    expect((proxy.volumeMounts as Obj[]).at(-1)).to.deep.equal({ name: 'outside-ca', mountPath: '/etc/outside-ca', readOnly: true });
    expect((pod.spec.volumes as Obj[]).filter((v) => v.name === 'outside-ca')).to.deep.equal([{ name: 'outside-ca', secret: { secretName: 'outside-ca' } }]);
    // A name weft uses itself, and a mount of no user volume, are refused with a warning each.
    expect((pod.spec.volumes as Obj[]).filter((v) => v.name === 'weft-identity')).to.have.length(1);
    expect(warnings.join('\n')).to.include('"weft-identity" already exists').and.include('"nope" names no user volume');
    expect(inject(rsPod({ annotations: { 'sidecar.istio.io/userVolume': '{not json' } })).warnings.join('\n')).to.include('not JSON');
  });

  it('names a bare pod\'s config after the pod, and skips (with a warning) one known only by generateName or on the host network', () => {
    const bare = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'debug', namespace: 'shop' }, spec: { containers: [{ name: 'c', image: 'x' }] } } as KubeObject;
    expect(inject(bare).pod.spec.volumes[0]).to.deep.equal({ name: 'weft-proxy-config', configMap: { name: 'weft-proxy-debug', optional: true } });
    expect(inject(bare).pod.spec.volumes[1]).to.deep.include({ secret: { secretName: 'weft-identity-default', optional: true } });
    const generated = { ...bare, metadata: { generateName: 'debug-', namespace: 'shop' } } as KubeObject;
    const r = injectPod(generated, injected);
    expect(r).to.deep.include({ action: 'skip', reason: 'no-workload-name' });
    expect(r.warnings[0]).to.include('not injected');
    expect(injectPod(rsPod({ spec: { hostNetwork: true } }), injected)).to.deep.include({ action: 'skip', reason: 'host-network' });
  });

  it('answers an AdmissionReview with a base64 JSONPatch, and with a plain allow for anything else', () => {
    const req = { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE' as const, namespace: 'shop', object: rsPod() as never };
    const res = injectResponse(req, injected);
    expect(res).to.include({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const ops = JSON.parse(Buffer.from(res.patch!, 'base64').toString('utf8')) as PatchOp[];
    expect(ops).to.deep.equal((injectPod(rsPod(), injected) as { patch: PatchOp[] }).patch);
    expect(injectResponse({ ...req, operation: 'UPDATE' }, injected)).to.deep.equal({ uid: 'u-1', allowed: true });
    expect(injectResponse({ ...req, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }, injected)).to.deep.equal({ uid: 'u-1', allowed: true });
    expect(injectResponse(req, {})).to.deep.equal({ uid: 'u-1', allowed: true });
  });
});
