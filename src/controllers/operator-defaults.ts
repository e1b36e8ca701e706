// The operator's default namespace and leader Lease name, apart from operator.ts so that the CLI can print and
// parse them without loading the operator (and the Kubernetes client) in processes that never run it.
export const DEFAULT_NAMESPACE = 'weft-system';
export const DEFAULT_LEASE_NAME = 'weft-operator';
