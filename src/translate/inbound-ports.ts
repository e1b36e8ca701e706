// The ports a workload serves: the target ports of the services that select it (a named targetPort looked up in
// the pods' container ports; none given means the service port). Two services on one target port share it: the
// first in snapshot order decides its protocol. Listeners name their chains and inbound clusters
// (`inbound|<port>||`) after these ports.
import type { MeshService, Protocol, ServicePort, Workload } from '../model/types.ts';
import type { TranslateContext } from './index.ts';

export interface InboundPort {
  /** The port the application listens on. */
  port: number;
  protocol: Protocol;
  service: MeshService;
  servicePort: ServicePort;
}

export function targetPortOf(workload: Workload, sp: ServicePort): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  if (sp.targetPort === undefined || sp.targetPort === '') return sp.port;
  for (const pod of workload.pods) {
    const found = pod.containerPorts.find((c) => c.name === sp.targetPort);
    if (found) return found.port;
  }
  return undefined;
}

export function inboundPorts(ctx: TranslateContext): InboundPort[] {
  const byPort = new Map<number, InboundPort>();
  for (const service of ctx.snapshot.servicesOf(ctx.workload)) {
    for (const sp of service.ports) {
      if (sp.protocol === 'UDP') continue;
      const port = targetPortOf(ctx.workload, sp);
      if (port === undefined || byPort.has(port)) continue;
      byPort.set(port, { port, protocol: sp.protocol, service, servicePort: sp });
    }
  }
  return [...byPort.values()].sort((a, b) => a.port - b.port);
}
