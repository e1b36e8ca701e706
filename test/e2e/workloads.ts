// The e2e workloads applied once per run (manifests.ts) and waited for: every pod ready and every client sidecar
// routing to both web versions, so each test file starts from the same settled mesh.
import type { LocalMesh } from '../../hack/local-cluster/mesh.ts';
import { apply, eventuallyBatch, fetchFrom, readyPods, sharedMesh, tally, type PodRef } from '../support/e2e-mesh.ts';
import { NS, PLAIN_NS, WEB, workloads } from './manifests.ts';

export interface Workloads {
  mesh: LocalMesh;
  clients: PodRef[];
  webPods: PodRef[];
  outsider: PodRef;
}

let ready: Promise<Workloads> | undefined;

async function setUp(mesh: LocalMesh): Promise<Workloads> {
  await apply(mesh, workloads());
  const clients = await readyPods(mesh, NS, 'app=client', 2);
  const webPods = await readyPods(mesh, NS, 'app=web', 2);
  await readyPods(mesh, NS, 'app=flaky', 1);
  await readyPods(mesh, NS, 'app=backend', 2);
  const [outsider] = await readyPods(mesh, PLAIN_NS, 'app=outsider', 1);
  for (const c of clients) {
    await eventuallyBatch(`${c.name} routes end-user: jason to v2`, async () =>
      tally(await fetchFrom(mesh, NS, c.name, WEB, { headers: { 'end-user': 'jason' } }), 'version').v2 === 1);
  }
  return { mesh, clients, webPods, outsider: outsider! };
}

export function e2eWorkloads(): Promise<Workloads> | { skip: string } {
  const m = sharedMesh();
  if ('skip' in m) return m;
  ready ??= m.then(setUp);
  return ready;
}
