// Semantic validation of AuthorizationPolicy. In: the resource as stored; out: errors (refused) and warnings.
// Covers the CRD's CEL rules (scope alternatives, provider only with CUSTOM, serviceAccounts exclusivity) so the
// offline path refuses the same objects, plus the mesh's checks of actions, sources, operations and conditions.
import type { AuthorizationPolicy, AuthorizationPolicySpec } from '../api/authorizationpolicy.ts';
import { checkIpOrCidr } from './common.ts';
import { checkCondition, checkMatchString, checkMethod, checkPath, checkPortString, checkServiceAccount, methodWarning } from './authz-values.ts';
import { checkPolicyScope } from './policy-scope.ts';
import { at, Findings, type ValidationResult } from './result.ts';

type Rule = NonNullable<AuthorizationPolicySpec['rules']>[number];
type Source = NonNullable<NonNullable<Rule['from']>[number]['source']>;
type Operation = NonNullable<NonNullable<Rule['to']>[number]['operation']>;
type Check = (value: string) => string | undefined;

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];

// Which check each list field's values get. Source fields that need a peer certificate are also TCP-capable.
const SOURCE_FIELDS: ReadonlyArray<[keyof Source, Check]> = [
  ['principals', checkMatchString],
  ['notPrincipals', checkMatchString],
  ['requestPrincipals', checkMatchString],
  ['notRequestPrincipals', checkMatchString],
  ['namespaces', checkMatchString],
  ['notNamespaces', checkMatchString],
  ['serviceAccounts', checkServiceAccount],
  ['notServiceAccounts', checkServiceAccount],
  ['ipBlocks', checkIpOrCidr],
  ['notIpBlocks', checkIpOrCidr],
  ['remoteIpBlocks', checkIpOrCidr],
  ['notRemoteIpBlocks', checkIpOrCidr],
  ['trustDomains', checkMatchString],
  ['notTrustDomains', checkMatchString],
];
const HTTP_ONLY_SOURCE_FIELDS = new Set<keyof Source>(['requestPrincipals', 'notRequestPrincipals']);
const OPERATION_FIELDS: ReadonlyArray<[keyof Operation, Check]> = [
  ['hosts', checkMatchString],
  ['notHosts', checkMatchString],
  ['ports', checkPortString],
  ['notPorts', checkPortString],
  ['methods', checkMethod],
  ['notMethods', checkMethod],
  ['paths', checkPath],
  ['notPaths', checkPath],
];
// An external authorizer is consulted before peer and request identities are matched, so it cannot use them.
const CUSTOM_UNSUPPORTED_SOURCE = new Set<keyof Source>([
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals',
  'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts',
]);
const CUSTOM_UNSUPPORTED_KEYS = ['source.namespace', 'source.serviceAccount', 'source.principal'];

function checkList(f: Findings, path: string, value: unknown, check: Check): void {
  if (value === undefined || value === null) return;
  if (!Array.isArray(value)) {
    f.error(path, 'must be a list of strings');
    return;
  }
  value.forEach((v, i) => {
    const e = typeof v === 'string' ? check(v) : 'must be a string';
    if (e) f.error(at(path, i), e);
  });
}

const present = (v: unknown): boolean => v !== undefined && v !== null;
const nonEmpty = (v: unknown): boolean => Array.isArray(v) && v.length > 0;

/** Returns whether the source uses any attribute a plain TCP connection has. */
function checkSource(f: Findings, path: string, src: Source, custom: boolean): boolean {
  const sa = present(src.serviceAccounts) || present(src.notServiceAccounts);
  const identity = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'] as const;
  if (sa && identity.some((k) => present(src[k]))) {
    f.error(path, 'serviceAccounts cannot be set together with namespaces or principals');
  }
  if (!SOURCE_FIELDS.some(([k]) => nonEmpty(src[k]))) {
    f.error(path, 'source must set at least one field (principals, namespaces, ipBlocks, ...)');
  }
  let tcp = false;
  for (const [k, check] of SOURCE_FIELDS) {
    checkList(f, at(path, k), src[k], check);
    if (present(src[k]) && !HTTP_ONLY_SOURCE_FIELDS.has(k)) tcp = true;
    if (custom && nonEmpty(src[k]) && CUSTOM_UNSUPPORTED_SOURCE.has(k)) {
      f.error(at(path, k), `${k} is not supported with action CUSTOM`);
    }
  }
  for (const k of ['serviceAccounts', 'notServiceAccounts'] as const) {
    const list = src[k];
    if (Array.isArray(list) && list.length > 16) f.error(at(path, k), 'may not have more than 16 values');
  }
  return tcp;
}

/** Returns whether the operation names ports, the only operation attribute a TCP connection has. */
function checkOperation(f: Findings, path: string, op: Operation): boolean {
  if (!OPERATION_FIELDS.some(([k]) => nonEmpty(op[k]))) {
    f.error(path, 'operation must set at least one field (hosts, ports, methods, paths, ...)');
  }
  for (const [k, check] of OPERATION_FIELDS) checkList(f, at(path, k), op[k], check);
  for (const k of ['methods', 'notMethods'] as const) {
    const list = op[k];
    if (Array.isArray(list)) list.forEach((m, i) => {
      const w = typeof m === 'string' ? methodWarning(m) : undefined;
      if (w) f.warn(at(at(path, k), i), w);
    });
  }
  for (const p of [...(op.paths ?? []), ...(op.notPaths ?? [])]) {
    if (typeof p === 'string' && p !== '' && !p.startsWith('/') && !p.startsWith('*')) {
      f.warn(at(path, op.paths?.includes(p) ? 'paths' : 'notPaths'),
        `"${p}" does not start with "/", but request paths always do`);
    }
  }
  return present(op.ports) || present(op.notPorts);
}

function checkWhen(f: Findings, path: string, when: NonNullable<Rule['when']>, custom: boolean): void {
  when.forEach((c, i) => {
    const p = at(path, i);
    if (typeof c !== 'object' || c === null) {
      f.error(p, 'condition must be an object with key and values');
      return;
    }
    if (!c.key) {
      f.error(at(p, 'key'), 'key must not be empty');
      return;
    }
    if (!nonEmpty(c.values) && !nonEmpty(c.notValues)) {
      f.error(p, `at least one of values or notValues must be set for key ${c.key}`);
    }
    const values = checkCondition(c.key, Array.isArray(c.values) ? c.values : []);
    const notValues = checkCondition(c.key, Array.isArray(c.notValues) ? c.notValues : []);
    if (values.key) f.error(at(p, 'key'), values.key);
    for (const [j, e] of values.values) f.error(at(p, 'values', j), e);
    for (const [j, e] of notValues.values) f.error(at(p, 'notValues', j), e);
    if (custom && (CUSTOM_UNSUPPORTED_KEYS.includes(c.key) || c.key.startsWith('request.auth.'))) {
      f.error(at(p, 'key'), `condition key ${c.key} is not supported with action CUSTOM`);
    }
  });
}

function checkRule(f: Findings, path: string, rule: Rule, action: string): void {
  if (typeof rule !== 'object' || rule === null) {
    f.error(path, 'rule must be an object (use {} to match every request)');
    return;
  }
  const custom = action === 'CUSTOM';
  let fromTcp = false;
  let toTcp = false;
  let hasFrom = false;
  let hasTo = false;
  if (Array.isArray(rule.from)) {
    if (rule.from.length === 0) f.error(at(path, 'from'), 'from must not be empty when set (omit it to match any source)');
    if (rule.from.length > 512) f.error(at(path, 'from'), 'at most 512 from entries may be set');
    rule.from.forEach((from, j) => {
      const p = at(path, 'from', j);
      if (!from?.source) {
        f.error(at(p, 'source'), 'from entries must set source');
        return;
      }
      hasFrom = true;
      if (checkSource(f, at(p, 'source'), from.source, custom)) fromTcp = true;
    });
  }
  if (Array.isArray(rule.to)) {
    if (rule.to.length === 0) f.error(at(path, 'to'), 'to must not be empty when set (omit it to match any operation)');
    rule.to.forEach((to, j) => {
      const p = at(path, 'to', j);
      if (!to?.operation) {
        f.error(at(p, 'operation'), 'to entries must set operation');
        return;
      }
      hasTo = true;
      if (checkOperation(f, at(p, 'operation'), to.operation)) toTcp = true;
    });
  }
  if (Array.isArray(rule.when)) checkWhen(f, at(path, 'when'), rule.when, custom);
  // A DENY rule whose attributes a TCP connection cannot have matches every TCP connection it covers.
  if (action === 'DENY' && ((hasFrom && !hasTo && !fromTcp) || (hasTo && !toTcp))) {
    f.warn(path, 'this DENY rule uses only HTTP attributes, so it denies all TCP traffic to the workloads it ' +
      'covers; name the ports (to.operation.ports) to keep it to HTTP');
  }
}

export function validateAuthorizationPolicy(obj: AuthorizationPolicy): ValidationResult {
  const f = new Findings();
  const spec: AuthorizationPolicySpec = obj.spec ?? {};
  checkPolicyScope(f, spec);

  const action = spec.action ?? 'ALLOW';
  if (!ACTIONS.includes(action)) f.error('spec.action', `action must be one of ${ACTIONS.join(', ')}; got "${action}"`);

  if (present(spec.provider) && action !== 'CUSTOM') {
    f.error('spec.provider', `provider may only be set when action is CUSTOM (action is ${action})`);
  }
  if (action === 'CUSTOM' && !spec.provider?.name) {
    f.error('spec.provider.name', 'action CUSTOM requires provider.name, the extension provider that decides');
  }

  const rules = spec.rules;
  if (rules === undefined || rules === null) {
    if (action === 'DENY' || action === 'CUSTOM') {
      f.error('spec.rules', `action ${action} without rules never triggers; add an empty rule {} to apply it to every request`);
    } else if (action === 'AUDIT') {
      f.warn('spec.rules', 'action AUDIT without rules never triggers; add an empty rule {} to audit every request');
    }
    return f.result();
  }
  if (!Array.isArray(rules)) {
    f.error('spec.rules', 'must be a list of rules');
    return f.result();
  }
  if (rules.length === 0 && action !== 'ALLOW') {
    f.warn('spec.rules', `rules is empty, so this ${action} policy never matches; add an empty rule {} to match every request`);
  }
  if (rules.length > 512) f.error('spec.rules', 'at most 512 rules may be set');
  rules.forEach((rule, i) => checkRule(f, at('spec.rules', i), rule, action));
  return f.result();
}
