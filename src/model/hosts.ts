// Host names as written in config → the names services are known by, and host matching with wildcards.
//
// resolveHost follows Istio's rule exactly: only a name without any dot is short and is completed with the
// namespace and `svc.<clusterDomain>` (`reviews` → `reviews.bookinfo.svc.cluster.local`). Anything with a dot
// (`reviews.other`, `reviews.other.svc`) is taken as fully qualified and left alone, as are `*`, `*.` wildcards and
// IP addresses. Istio's documentation recommends fully qualified names for that reason.
export function resolveHost(host: string, namespace: string, clusterDomain: string): string {
  // IPv4 literals contain dots; IPv6 literals contain colons, which no DNS name does.
  if (host === '' || host === '*' || host.includes('.') || host.includes(':')) return host;
  return `${host}.${namespace}.svc.${clusterDomain}`;
}

/** `name.namespace.svc.<domain>` */
export function kubernetesHostname(name: string, namespace: string, clusterDomain: string): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

export const isWildcard = (host: string): boolean => host.startsWith('*');

/**
 * Whether `pattern` covers `host`: equal names, or a wildcard pattern (`*.example.com`, `*`) whose suffix ends
 * the host. A wildcard host is covered by an equal or broader wildcard (`*.com` covers `*.example.com`).
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  if (!isWildcard(pattern)) return false;
  const suffix = pattern.slice(1);
  const needle = isWildcard(host) ? host.slice(1) : host;
  return needle.endsWith(suffix);
}

/** Among the patterns that match `host`, the most specific: the exact name, else the longest wildcard. */
export function mostSpecificMatch(host: string, patterns: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const p of patterns) {
    if (!hostMatches(p, host)) continue;
    if (best === undefined || moreSpecific(p, best)) best = p;
  }
  return best;
}

/** Exact names before wildcards; longer wildcards before shorter; then by name, for determinism. */
export function moreSpecific(a: string, b: string): boolean {
  const wa = isWildcard(a);
  const wb = isWildcard(b);
  if (wa !== wb) return !wa;
  if (a.length !== b.length) return a.length > b.length;
  return a < b;
}
