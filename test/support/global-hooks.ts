// Mocha global fixtures: stop anything the tiers started (the shared API server, the e2e clusters) once all suites ran.
import { stopSharedCluster } from './cluster.ts';
import { stopSharedMesh } from './e2e-mesh.ts';
import { stopTiers } from './e2e-tiers.ts';

export async function mochaGlobalTeardown(): Promise<void> {
  await Promise.all([stopSharedCluster(), stopSharedMesh(), stopTiers()]);
}
