// Which DestinationRule applies to a host for a client: Istio's lookup order.
//   1. rules in the client's namespace (all of them, whatever their exportTo),
//   2. rules in the namespace of the service the host names, exported to the client's namespace,
//   3. rules in the root namespace, exported to the client's namespace.
// Within one namespace the most specific host wins (exact name, then the longest wildcard); among rules for that
// host, the oldest (creation time, then name). A rule with a workloadSelector applies only to the workloads it
// selects in its own namespace, and takes precedence there over rules without one; selectors never reach
// across namespaces, so steps 2 and 3 skip such rules.
import type { DestinationRule } from '../api/index.ts';
import { hostMatches, moreSpecific, resolveHost } from './hosts.ts';
import { by, creationOf, groupBy, nameOf, namespaceOf, record, selectorMatches, str, stringList, stringMap } from './kube.ts';
import type { ExportTo, Labels } from './types.ts';
import { parseExportTo, visibleIn } from './visibility.ts';

interface RuleEntry {
  rule: DestinationRule;
  namespace: string;
  /** spec.host resolved against the rule's namespace. */
  host: string;
  exportTo: ExportTo;
  selector?: Labels;
}

export interface DestinationRuleIndex {
  lookup(host: string, clientNamespace: string, serviceNamespace: string | undefined, workloadLabels: Labels | undefined): DestinationRule | undefined;
}

export function indexDestinationRules(rules: readonly DestinationRule[], rootNamespace: string, clusterDomain: string): DestinationRuleIndex {
  const entries: RuleEntry[] = [];
  const ordered = [...rules].sort(by(creationOf, nameOf, namespaceOf));
  for (const rule of ordered) {
    const spec = record(rule.spec);
    const namespace = namespaceOf(rule);
    const host = str(spec.host);
    if (!host) continue;
    const ws = spec.workloadSelector;
    entries.push({
      rule,
      namespace,
      host: resolveHost(host, namespace, clusterDomain),
      exportTo: parseExportTo(stringList(spec.exportTo), namespace),
      ...(ws !== undefined && ws !== null ? { selector: stringMap(record(ws).matchLabels) } : {}),
    });
  }
  const byNamespace = groupBy(entries, (e) => e.namespace);

  /** The most specific matching host among `candidates`, then the first (oldest) rule for it. */
  const pick = (host: string, candidates: readonly RuleEntry[]): DestinationRule | undefined => {
    let best: RuleEntry | undefined;
    for (const e of candidates) {
      if (!hostMatches(e.host, host)) continue;
      if (best === undefined || (e.host !== best.host && moreSpecific(e.host, best.host))) best = e;
    }
    return best?.rule;
  };

  const inNamespace = (host: string, ns: string, client: string, labels: Labels | undefined, own: boolean) => {
    const all = byNamespace.get(ns) ?? [];
    if (own) {
      // Rules selecting this workload first; then the rules for every workload.
      const selecting = labels ? all.filter((e) => e.selector !== undefined && selectorMatches(e.selector, labels)) : [];
      return pick(host, selecting) ?? pick(host, all.filter((e) => e.selector === undefined));
    }
    return pick(host, all.filter((e) => e.selector === undefined && visibleIn(e.exportTo, client)));
  };

  return {
    lookup(host, client, serviceNamespace, labels) {
      return inNamespace(host, client, client, labels, true)
        ?? (serviceNamespace !== undefined && serviceNamespace !== client ? inNamespace(host, serviceNamespace, client, labels, false) : undefined)
        ?? (rootNamespace !== client ? inNamespace(host, rootNamespace, client, labels, false) : undefined);
    },
  };
}
