import { expect } from 'chai';
import { kubernetesPortProtocol, parseProtocol, protocolFromName } from '../../src/model/protocol.ts';
import { service, snapshotOf } from '../support/mesh-fixtures.ts';

describe('model: protocol selection', () => {
  const byName: Array<[string, string]> = [
    ['http', 'HTTP'], ['HTTP', 'HTTP'], ['http-api', 'HTTP'], ['Http-Web', 'HTTP'], ['http2', 'HTTP2'], ['http2-x', 'HTTP2'],
    ['https', 'HTTPS'], ['https-admin', 'HTTPS'], ['grpc', 'GRPC'], ['grpc-x', 'GRPC'], ['grpc-web', 'GRPC-WEB'],
    ['grpc-web-ui', 'GRPC-WEB'], ['GRPC-Web', 'GRPC-WEB'], ['tcp', 'TCP'], ['tcp-db', 'TCP'], ['tls', 'TLS'], ['tls-x', 'TLS'],
    ['mongo', 'MONGO'], ['mongo-1', 'MONGO'], ['mysql-main', 'MYSQL'], ['redis', 'REDIS'], ['udp-dns', 'UDP'],
    ['', 'UNKNOWN'], ['web', 'UNKNOWN'], ['httpx', 'UNKNOWN'], ['http_api', 'UNKNOWN'], ['grpcweb', 'UNKNOWN'], ['metrics', 'UNKNOWN'],
    ['-http', 'UNKNOWN'],
  ];
  for (const [name, protocol] of byName) {
    it(`port name ${JSON.stringify(name)} → ${protocol}`, () => expect(protocolFromName(name)).to.equal(protocol));
  }

  const kube: Array<[Parameters<typeof kubernetesPortProtocol>[0], string]> = [
    [{ name: 'http', protocol: 'UDP' }, 'UDP'],
    [{ name: 'dns', protocol: 'UDP', appProtocol: 'http' }, 'UDP'],
    [{ name: 'tcp-x', appProtocol: 'http' }, 'HTTP'],
    [{ name: 'web', appProtocol: 'HTTP2' }, 'HTTP2'],
    [{ name: 'web', appProtocol: 'grpc' }, 'GRPC'],
    [{ name: 'web', appProtocol: 'kubernetes.io/h2c' }, 'HTTP2'],
    [{ name: 'web', appProtocol: 'kubernetes.io/ws' }, 'HTTP'],
    [{ name: 'web', appProtocol: 'kubernetes.io/wss' }, 'HTTPS'],
    [{ name: 'web', appProtocol: 'https' }, 'HTTPS'],
    [{ name: 'web', appProtocol: 'tls' }, 'TLS'],
    [{ name: 'http', appProtocol: 'tcp' }, 'TCP'],
    // An appProtocol replaces the name: an unknown one is UNKNOWN, not the name's protocol.
    [{ name: 'http', appProtocol: 'example.com/custom' }, 'UNKNOWN'],
    [{ name: 'http', appProtocol: '' }, 'HTTP'],
    [{ name: 'grpc-web', protocol: 'TCP' }, 'GRPC-WEB'],
    [{ name: 'mysql', protocol: 'SCTP' }, 'MYSQL'],
    [{}, 'UNKNOWN'],
  ];
  for (const [port, protocol] of kube) {
    it(`Kubernetes port ${JSON.stringify(port)} → ${protocol}`, () => expect(kubernetesPortProtocol(port)).to.equal(protocol));
  }

  it('ServiceEntry protocols by name, any case; unset or unknown → UNKNOWN', () => {
    expect(['HTTP', 'https', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TLS', 'TCP', 'UDP', 'MONGO', 'MYSQL', 'REDIS', 'HTTP_PROXY', undefined, 'THRIFT']
      .map(parseProtocol)).to.deep.equal(['HTTP', 'HTTPS', 'HTTP2', 'GRPC', 'GRPC-WEB', 'TLS', 'TCP', 'UDP', 'MONGO', 'MYSQL', 'REDIS', 'HTTP', 'UNKNOWN', 'UNKNOWN']);
  });

  it('applies to the ports of a snapshot service', () => {
    const snap = snapshotOf({ services: [service('db', 'ns', { ports: [{ name: 'mysql', port: 3306 }, { name: 'dns', port: 53, protocol: 'UDP' },
      { port: 8080, appProtocol: 'kubernetes.io/h2c' }] })] });
    expect(snap.services[0]!.ports.map((p) => [p.name, p.port, p.protocol])).to.deep.equal([
      ['dns', 53, 'UDP'], ['mysql', 3306, 'MYSQL'], ['', 8080, 'HTTP2'],
    ]);
  });
});
