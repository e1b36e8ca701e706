// The identity of a build's inputs: one sha256 over file names and contents (directories walked in name order) and
// any extra strings, so an archive is rebuilt exactly when something that goes into it changed.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

export function hashInputs(root: string, paths: string[], extra: string[] = []): string {
  const h = createHash('sha256');
  const add = (p: string): void => {
    const abs = join(root, p);
    if (statSync(abs).isDirectory()) {
      for (const name of readdirSync(abs).sort()) add(join(p, name));
      return;
    }
    h.update(`${relative(root, abs)}\0`);
    h.update(readFileSync(abs));
    h.update('\0');
  };
  for (const p of paths) add(p);
  for (const e of extra) h.update(`${e}\0`);
  return h.digest('hex');
}

/** sha256 of one (possibly large) file. */
export const fileSha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
