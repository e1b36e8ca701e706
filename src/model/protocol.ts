// Port protocol selection: a Kubernetes ServicePort or a ServiceEntry port → Protocol.
// Kubernetes: UDP ports are UDP; else `appProtocol` when set (it replaces the name entirely, as in Istio, so an
// unrecognised appProtocol gives UNKNOWN rather than falling back to the name); else the port name, whose
// prefix before the first `-` names the protocol (`http-api` → HTTP, `grpc-web-x` → GRPC-WEB), case-insensitive.
import type { Protocol } from './types.ts';

const NAMED: Readonly<Record<string, Protocol>> = {
  http: 'HTTP',
  // An outbound proxy port; weft handles it as HTTP.
  http_proxy: 'HTTP',
  http2: 'HTTP2',
  https: 'HTTPS',
  grpc: 'GRPC',
  'grpc-web': 'GRPC-WEB',
  tcp: 'TCP',
  tls: 'TLS',
  udp: 'UDP',
  mongo: 'MONGO',
  mysql: 'MYSQL',
  redis: 'REDIS',
};

/** A protocol name as written in a ServiceEntry port (`HTTP`, `grpc-web`…); unset or unknown → UNKNOWN. */
export function parseProtocol(name: string | undefined): Protocol {
  return (name !== undefined && NAMED[name.toLowerCase()]) || 'UNKNOWN';
}

/** The protocol a port name (or appProtocol) announces by convention: `<protocol>` or `<protocol>-<suffix>`. */
export function protocolFromName(name: string): Protocol {
  const lower = name.toLowerCase();
  // Checked before cutting at the first '-', since the protocol name itself contains one.
  if (lower === 'grpc-web' || lower.startsWith('grpc-web-')) return 'GRPC-WEB';
  const dash = lower.indexOf('-');
  return parseProtocol(dash >= 0 ? lower.slice(0, dash) : lower);
}

/** Kubernetes ServicePort → Protocol. `protocol` is the L4 protocol (TCP, UDP, SCTP). */
export function kubernetesPortProtocol(port: { name?: string; protocol?: string; appProtocol?: string }): Protocol {
  if (port.protocol === 'UDP') return 'UDP';
  if (port.appProtocol !== undefined && port.appProtocol !== '') {
    switch (port.appProtocol) {
      case 'kubernetes.io/h2c': return 'HTTP2';
      case 'kubernetes.io/ws': return 'HTTP';
      case 'kubernetes.io/wss': return 'HTTPS';
    }
    return protocolFromName(port.appProtocol);
  }
  return protocolFromName(port.name ?? '');
}
