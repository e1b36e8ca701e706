import { expect } from 'chai';
import { computeStatus } from '../../src/controllers/reconciler.ts';
import { silentLogger } from '../../src/controllers/log.ts';
import { unsupportedFields } from '../../src/controllers/unsupported-fields.ts';
import type { MeshView } from '../../src/controllers/refs.ts';

const fields = (kind: string, spec: unknown): string[] => unsupportedFields({ kind, spec }).map((f) => f.field);

describe('controllers: fields accepted but not carried out', () => {
  it('names each field by its path, per kind', () => {
    expect(fields('VirtualService', {
      http: [{ fault: { delay: { exponentialDelay: '1s', percentage: { value: 1 } }, abort: { http2Error: 'CANCEL' } } }, { fault: { delay: { fixedDelay: '1s' } } }],
      tcp: [{ match: [{ port: 1 }, { sourceSubnet: '10.0.0.0/8' }] }],
    })).to.deep.equal(['spec.http[0].fault.delay.exponentialDelay', 'spec.http[0].fault.abort.http2Error', 'spec.tcp[0].match[1].sourceSubnet']);
    expect(fields('DestinationRule', { trafficPolicy: { tunnel: { protocol: 'CONNECT', targetHost: 'x', targetPort: 1 } }, subsets: [{ name: 'a', trafficPolicy: { tunnel: { targetHost: 'y', targetPort: 2 } } }] }))
      .to.deep.equal(['spec.trafficPolicy.tunnel', 'spec.subsets[0].trafficPolicy.tunnel']);
    expect(fields('Gateway', { servers: [{ bind: '10.0.0.1', defaultEndpoint: '127.0.0.1:80', tls: { mode: 'MUTUAL', verifyCertificateSpki: ['x'] } }] }))
      .to.deep.equal(['spec.servers[0].bind', 'spec.servers[0].defaultEndpoint', 'spec.servers[0].tls.verifyCertificateSpki']);
    expect(fields('ServiceEntry', { endpoints: [{ address: '1.1.1.1' }, { address: '1.1.1.2', network: 'n2' }] })).to.deep.equal(['spec.endpoints[1].network']);
    expect(fields('WorkloadEntry', { address: '1.1.1.1', network: 'n2' })).to.deep.equal(['spec.network']);
    expect(fields('AuthorizationPolicy', { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'g' }] })).to.deep.equal(['spec.targetRefs']);
    expect(fields('RequestAuthentication', { targetRef: { kind: 'Service', name: 's' } })).to.deep.equal(['spec.targetRef']);
    expect(fields('DestinationRule', {
      trafficPolicy: {
        retryBudget: { percent: 20, budgetInterval: '10s' },
        connectionPool: { http: { http2KeepAlive: { interval: '10s' } } },
        portLevelSettings: [{ port: { number: 80 }, outlierDetection: { outlierDetectionHttpErrorCodes: [500] } }],
      },
      subsets: [{ name: 'a', trafficPolicy: { loadBalancer: { zoneAwareLbSetting: {}, backendUtilization: {} } } }],
    })).to.deep.equal([
      'spec.trafficPolicy.retryBudget.budgetInterval', 'spec.trafficPolicy.connectionPool.http.http2KeepAlive',
      'spec.trafficPolicy.portLevelSettings[0].outlierDetection.outlierDetectionHttpErrorCodes',
      'spec.subsets[0].trafficPolicy.loadBalancer.zoneAwareLbSetting', 'spec.subsets[0].trafficPolicy.loadBalancer.backendUtilization',
    ]);
    expect(fields('Gateway', { servers: [{ tls: { mode: 'SIMPLE', ecdhCurves: ['X25519'], insecureSkipVerify: true } }] }))
      .to.deep.equal(['spec.servers[0].tls.ecdhCurves', 'spec.servers[0].tls.insecureSkipVerify']);
    expect(fields('PeerAuthentication', { mtls: { mode: 'STRICT' } })).to.deep.equal([]);
    expect(fields('VirtualService', { http: [{ route: [{ destination: { host: 'a' } }] }] })).to.deep.equal([]);
  });

  it('reach status as WARNING messages WEFT0003 NotSupported, leaving Accepted True', () => {
    const view: MeshView = {
      rootNamespace: 'weft-system', hasGateway: () => true, hasVirtualService: () => true, hasService: () => true,
      serviceEntryHosts: () => [], destinationRules: () => [], workloadLabels: () => [],
    };
    const obj = { kind: 'WorkloadEntry', metadata: { name: 'w', namespace: 'ns', generation: 1 }, spec: { address: '1.1.1.1', network: 'n2' } };
    const s = computeStatus(obj, { view, validate: () => ({ errors: [], warnings: [] }), log: silentLogger, now: () => new Date() });
    expect(s.conditions![0]).to.include({ type: 'Accepted', status: 'True' });
    expect(s.validationMessages).to.deep.equal([{
      type: { code: 'WEFT0003', name: 'NotSupported' }, level: 'WARNING', field: 'spec.network',
      message: 'not supported by weft: weft runs one network, the workload is reached directly',
    }]);
  });
});
