// kubectl as a child process that does not block the event loop. Needed whenever a webhook under test is served
// from the test process itself: a synchronous kubectl would leave the API server's webhook call unanswered.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Cluster } from './cluster.ts';

export interface KubectlResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function kubectlAsync(cp: Cluster, args: string[], input?: string): Promise<KubectlResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(cp.bin, 'kubectl'), ['--kubeconfig', cp.kubeconfigPath, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}
