// Mocha global fixtures: stop anything the tiers started (the shared API server) once all suites ran.
import { stopSharedCluster } from './cluster.ts';

export async function mochaGlobalTeardown(): Promise<void> {
  await stopSharedCluster();
}
