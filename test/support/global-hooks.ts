// Mocha global fixtures: stop anything the tiers started (the shared API server, the e2e mesh) once all suites ran.
import { stopSharedCluster } from './cluster.ts';
import { stopSharedMesh } from './e2e-mesh.ts';

export async function mochaGlobalTeardown(): Promise<void> {
  await Promise.all([stopSharedCluster(), stopSharedMesh()]);
}
