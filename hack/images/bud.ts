// `buildah bud` as weft's image builds run it: a Dockerfile builder with no daemon, RUN steps chrooted on the host
// network (npm ci, apt-get), FROM resolved only from weft's own storage (the base images base.ts makes), and each
// step's layer kept so an unchanged lockfile skips npm ci; a failed build leaves no working container behind.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildah, CACHE, type Log } from './run.ts';

/** When the host trusts an extra CA for its registry traffic (NODE_EXTRA_CA_CERTS, e.g. behind a TLS-inspecting
 * proxy), RUN steps get it too: npm's global config dir /usr/local/etc, which exists empty in the base images, is
 * mounted with an npmrc naming it. A mount over an existing directory leaves nothing in the committed layers. */
function caMount(): string[] {
  const ca = process.env.WEFT_BUILD_CA || process.env.NODE_EXTRA_CA_CERTS;
  if (!ca || !existsSync(ca)) return [];
  const dir = join(CACHE, 'build-ca');
  mkdirSync(dir, { recursive: true });
  copyFileSync(ca, join(dir, 'ca.crt'));
  writeFileSync(join(dir, 'npmrc'), 'cafile=/usr/local/etc/ca.crt\n');
  return ['-v', `${dir}:/usr/local/etc:ro`];
}

/** layers: false builds without the step cache, whose keys (in buildah 1.28) leave out --build-arg values: an
 * `ENV APP=${APP}` step would be reused from a build with another APP. */
export function bud(args: string[], o: { cwd?: string; log?: Log; layers?: boolean } = {}): Promise<string> {
  return buildah(['bud', `--layers=${o.layers ?? true}`, '--pull=never', '--force-rm', '--isolation', 'chroot', '--network', 'host', ...caMount(), ...args], o);
}
