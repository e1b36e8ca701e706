// Locality load balancing settings of a DestinationRule load balancer: a LocalityLbSetting in, findings out.
// Localities are region/zone/subzone with at most one trailing "*"; distribute weights per source sum to 100;
// failover names regions only; distribute and failover exclude each other.
import type { DestinationRuleSpec } from '../api/destinationrule.ts';
import { at } from './result.ts';
import type { Findings } from './result.ts';

type LocalityLbSetting = NonNullable<NonNullable<NonNullable<DestinationRuleSpec['trafficPolicy']>['loadBalancer']>['localityLbSetting']>;

/** Labels that carry the locality itself; failover already decides over regions, so they conflict with it. */
const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

export function checkLocalityLbSetting(lb: LocalityLbSetting, path: string, f: Findings, hasOutlierDetection: boolean): void {
  const distribute = Array.isArray(lb.distribute) ? lb.distribute : [];
  const failover = Array.isArray(lb.failover) ? lb.failover : [];
  const priority = Array.isArray(lb.failoverPriority) ? lb.failoverPriority : [];
  if (distribute.length > 0 && failover.length > 0) {
    f.error(path, 'only one of distribute or failover may be set');
    return;
  }
  if (failover.length > 0) {
    priority.forEach((label, i) => {
      if (TOPOLOGY_LABELS.has(label)) f.error(at(path, 'failoverPriority', i), `topology label "${label}" cannot be used in failoverPriority together with failover`);
    });
  }

  const sources: Array<[string, string]> = [];
  distribute.forEach((d, i) => {
    const p = at(path, 'distribute', i);
    sources.push([d.from ?? '', at(p, 'from')]);
    const to = d.to ?? {};
    let total = 0;
    let weightsOk = true;
    for (const [loc, w] of Object.entries(to)) {
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 1 || w > 100) {
        f.error(`${at(p, 'to')}[${loc}]`, `locality weight must be in range [1, 100] (got ${String(w)})`);
        weightsOk = false;
      } else {
        total += w;
      }
    }
    if (weightsOk && total !== 100) f.error(at(p, 'to'), `locality weights must sum to 100 (they sum to ${total})`);
    checkLocalities(Object.keys(to).map((loc) => [loc, `${at(p, 'to')}[${loc}]`]), f);
  });
  checkLocalities(sources, f);

  if ((failover.length > 0 || priority.length > 0) && !hasOutlierDetection) {
    f.warn(path, 'failover needs outlierDetection to notice unhealthy endpoints; without it failover never happens');
  }
  failover.forEach((fo, i) => {
    const p = at(path, 'failover', i);
    const from = fo.from ?? '';
    const to = fo.to ?? '';
    if (from === to) f.error(p, `locality lb failover settings must specify different regions (from and to are both "${from}")`);
    if (from.includes('/') || to.includes('/')) f.error(p, 'locality lb failover only specifies regions, not zones (no "/")');
    if (from.includes('*') || to.includes('*')) f.error(p, 'locality lb failover regions must not contain a "*" wildcard');
  });
}

/**
 * Each locality is well formed, and none overlaps an earlier one (e.g. "us-west/*" then "us-west/zone1").
 * Reports the first problem only, as each later overlap follows from it.
 */
function checkLocalities(list: Array<[string, string]>, f: Findings): void {
  // region -> zone -> subzones; "*" at a level means "everything below is taken".
  const taken = new Map<string, Map<string, Set<string>>>();
  for (const [loc, path] of list) {
    const stars = loc.split('*').length - 1;
    if (stars > 1 || (stars === 1 && !loc.endsWith('*'))) {
      f.error(path, `locality "${loc}" may have one wildcard "*", only at the end`);
      return;
    }
    const raw = loc.split('/');
    const parts = raw.length > 3 ? [raw[0]!, raw[1]!, raw.slice(2).join('/')] : raw; // the subzone takes the rest
    if (parts.some((s) => s === '')) {
      f.error(path, `locality "${loc}" must be region, region/zone or region/zone/subzone, with no empty part`);
      return;
    }
    const overlap = (): void => f.error(path, `locality "${loc}" overlaps one given before it`);
    if (taken.has('*')) return overlap();
    const [region, zone, subzone] = parts as [string, string?, string?];
    const zones = taken.get(region);
    if (zone === undefined) {
      if (zones) return overlap();
      taken.set(region, new Map([['*', new Set(['*'])]]));
      continue;
    }
    if (zones?.has('*')) return overlap();
    const byZone = zones ?? new Map<string, Set<string>>();
    taken.set(region, byZone);
    const subs = byZone.get(zone);
    if (subzone === undefined) {
      if (subs) return overlap();
      byZone.set(zone, new Set(['*']));
      continue;
    }
    if (subs?.has('*') || subs?.has(subzone)) return overlap();
    byZone.set(zone, (subs ?? new Set()).add(subzone));
  }
}
