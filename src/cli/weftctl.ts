#!/usr/bin/env node
// weftctl: the user's command line. In: argv. Out: text on stdout/stderr and an exit status
// (0 fine, 1 something invalid, 2 usage error).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './crds.ts';
import { eachFlag } from './flags.ts';
import { runValidate } from './validate-cmd.ts';
import type { ValidateArgs } from './validate-cmd.ts';

const HELP = `weftctl — command line for the weft service mesh

Usage:
  weftctl validate -f FILE [-f FILE ...] [flags]   check mesh resources offline
  weftctl proxy-config <pod|kind/name> [KIND]      show the config a workload's sidecar runs
  weftctl proxy-config --file FILE [KIND]          decode a proxy config bundle file
  weftctl version                                  print the version
  weftctl help                                     show this help

validate checks every document of the given YAML files (a directory means its .yaml/.yml/.json files, "-" means
standard input) against its CRD's schema, as the API server would (unknown fields are errors), and then against
weft's own rules, as the admission webhook would. It prints one line per problem,
  <file>:<document index from 0> <Kind> <namespace>/<name>: <field>: <message>
with warnings prefixed "warning:", then a summary. Exit status: 0 all valid, 1 something invalid, 2 usage error.

validate flags:
  -f, --filename FILE     file, directory or "-" (repeatable)
  -n, --namespace NS      namespace for documents that set none (default "default")
      --root-namespace NS the mesh root namespace (default "weft-system")
      --skip-unknown      skip kinds of Istio's API groups (*.istio.io) that weft does not support (EnvoyFilter,
                          Telemetry, WasmPlugin…) instead of reporting them as "not supported by weft" (an
                          error); documents of other groups (Deployment…) are always skipped

proxy-config reads the workload's ConfigMap weft-proxy-<workload> and prints its listeners, routes, clusters
and endpoints (KIND: listeners, routes, clusters, endpoints or all; default all). A pod is followed to its
workload through its owners (ReplicaSet → Deployment, Job → CronJob); deployment/NAME, statefulset/NAME,
daemonset/NAME, job/NAME, cronjob/NAME, replicaset/NAME and workload/NAME name one directly, and a name that is
no pod is taken as the workload's. istioctl's order (proxy-config clusters <pod>) works too.

proxy-config flags:
  -n, --namespace NS      namespace (default: the kubeconfig context's, else "default")
  -o, --output FORMAT     table (default), json or yaml (the full Envoy objects)
      --kubeconfig PATH   kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
  -f, --file FILE         read a bundle (config.pb.gz, gzipped or not; "-" for stdin) instead of the cluster
`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function parseValidateArgs(argv: string[]): ValidateArgs {
  const args: ValidateArgs = { files: [], namespace: 'default', skipUnknown: false };
  eachFlag(argv, (m) => new UsageError(m), (flag, a, value) => {
    switch (flag) {
      case '-f':
      case '--filename':
        args.files.push(value());
        break;
      case '-n':
      case '--namespace':
        args.namespace = value();
        break;
      case '--root-namespace':
        args.rootNamespace = value();
        break;
      case '--skip-unknown':
        args.skipUnknown = true;
        break;
      case '-h':
      case '--help':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown argument "${a}"`);
    }
  });
  if (args.files.length === 0) throw new UsageError('validate needs at least one -f FILE');
  return args;
}

export function main(argv: string[]): number | Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return runValidate(parseValidateArgs(rest), {
          out: (line) => process.stdout.write(`${line}\n`),
          readStdin: () => readFileSync(0, 'utf8'),
        });
      case 'proxy-config':
      case 'pc':
        return proxyConfig(rest);
      case 'version':
      case '--version':
        process.stdout.write(`weftctl ${version()}\n`);
        return 0;
      case 'help':
      case '-h':
      case '--help':
        process.stdout.write(HELP);
        return 0;
      case undefined:
        throw new UsageError('');
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    return usageFailure(e);
  }
}

function usageFailure(e: unknown): number {
  if (!(e instanceof UsageError)) throw e;
  if (e.message) process.stderr.write(`weftctl: ${e.message}\n\n`);
  process.stderr.write(HELP);
  return 2;
}

/** Loaded on demand: it brings the API client and the Envoy descriptor, which other commands do not need. */
async function proxyConfig(argv: string[]): Promise<number> {
  const { parseProxyConfigArgs, runProxyConfig } = await import('./proxy-config-cmd.ts');
  let args;
  try {
    args = parseProxyConfigArgs(argv, (m) => new UsageError(m));
  } catch (e) {
    return usageFailure(e);
  }
  return runProxyConfig(args, {
    out: (text) => process.stdout.write(text),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
