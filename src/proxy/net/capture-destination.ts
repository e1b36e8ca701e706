// Where a connection accepted on a capture port was headed. In: what SO_ORIGINAL_DST answered (or its error), the
// accepted socket's local side (address and port), the proxy's capture ports. Out: the original destination, or
// why the connection is refused.
//
// A connection iptables did not redirect has no original destination. Without connection tracking the kernel
// answers an error (ENOENT); with conntrack loaded (kube-proxy loads it on every node) it answers the connection's
// own destination, which is this listener's local address. Both mean "not redirected": the only place such a
// connection was headed is this proxy's own listener, and proxying it there would loop.
import { plainIp } from './connection.ts';

export interface Endpoint {
  address: string;
  port: number;
}

export type CaptureDecision =
  | { kind: 'redirected'; ip: string; port: number }
  | { kind: 'refused'; reason: 'not-redirected' | 'capture-port'; destination: string };

const hostPort = (ip: string, port: number): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

export function captureDestination(original: Endpoint | Error, local: { address?: string; port?: number }, capturePorts: ReadonlySet<number>): CaptureDecision {
  const localIp = plainIp(local.address) ?? '';
  const localPort = local.port ?? 0;
  if (original instanceof Error) return { kind: 'refused', reason: 'not-redirected', destination: hostPort(localIp, localPort) };
  const ip = plainIp(original.address) ?? original.address;
  if (ip === localIp && original.port === localPort) return { kind: 'refused', reason: 'not-redirected', destination: hostPort(ip, original.port) };
  // Redirected, but to a capture port of this proxy (on this host): it would come straight back.
  if (capturePorts.has(original.port) && (ip === localIp || ip.startsWith('127.') || ip === '::1')) {
    return { kind: 'refused', reason: 'capture-port', destination: hostPort(ip, original.port) };
  }
  return { kind: 'redirected', ip, port: original.port };
}
