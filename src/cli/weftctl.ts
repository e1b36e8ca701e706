#!/usr/bin/env node
// weftctl: the user's command line. In: argv. Out: text on stdout/stderr and an exit status
// (0 fine, 1 something invalid, 2 usage error).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './crds.ts';
import { runValidate } from './validate-cmd.ts';
import type { ValidateArgs } from './validate-cmd.ts';

const HELP = `weftctl — command line for the weft service mesh

Usage:
  weftctl validate -f FILE [-f FILE ...] [flags]   check mesh resources offline
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
      --skip-unknown      ignore kinds of the mesh API groups that weft does not serve (e.g. Sidecar)
                          instead of reporting them; documents of other groups (Deployment…) are always skipped
`;

class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function parseValidateArgs(argv: string[]): ValidateArgs {
  const args: ValidateArgs = { files: [], namespace: 'default', skipUnknown: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf('=');
    const [flag, inline] = a.startsWith('--') && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${flag} needs a value`);
      return v;
    };
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
  }
  if (args.files.length === 0) throw new UsageError('validate needs at least one -f FILE');
  return args;
}

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'validate':
        return runValidate(parseValidateArgs(rest), {
          out: (line) => process.stdout.write(`${line}\n`),
          readStdin: () => readFileSync(0, 'utf8'),
        });
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
    if (!(e instanceof UsageError)) throw e;
    if (e.message) process.stderr.write(`weftctl: ${e.message}\n\n`);
    process.stderr.write(HELP);
    return 2;
  }
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
