// weft-init's traffic capture: a shell script run once in the pod's network namespace before any other
// container. In: ports through environment variables (numbers only; inject-options.ts checks the annotations).
// Out: nat rules, for IPv4 and IPv6, sending the app's outbound TCP to the proxy's 15001 and inbound TCP to its 15006.
// The proxy's own traffic (UID 1337) and loopback traffic leave uncaptured, or the proxy would capture itself.
import { INBOUND_PORT, OUTBOUND_PORT, PROXY_UID } from './inject-options.ts';

export const IPTABLES_SCRIPT = `set -eu
# capture <iptables|ip6tables> <loopback address>: the same rules for each address family.
capture() {
  tool=$1
  loopback=$2
  # Re-running (a restarted init container) starts from empty chains instead of failing or duplicating rules.
  for c in WEFT_INBOUND WEFT_IN_REDIRECT WEFT_OUTPUT WEFT_REDIRECT; do
    ipt -N "$c" 2>/dev/null || ipt -F "$c"
  done
  ipt -C PREROUTING -p tcp -j WEFT_INBOUND 2>/dev/null || ipt -A PREROUTING -p tcp -j WEFT_INBOUND
  ipt -C OUTPUT -p tcp -j WEFT_OUTPUT 2>/dev/null || ipt -A OUTPUT -p tcp -j WEFT_OUTPUT

  ipt -A WEFT_IN_REDIRECT -p tcp -j REDIRECT --to-ports "$WEFT_INBOUND_PORT"
  for p in $WEFT_INBOUND_EXCLUDE; do ipt -A WEFT_INBOUND -p tcp --dport "$p" -j RETURN; done
  ipt -A WEFT_INBOUND -p tcp -j WEFT_IN_REDIRECT

  ipt -A WEFT_REDIRECT -p tcp -j REDIRECT --to-ports "$WEFT_OUTBOUND_PORT"
  ipt -A WEFT_OUTPUT -m owner --uid-owner "$WEFT_PROXY_UID" -j RETURN
  ipt -A WEFT_OUTPUT -o lo -j RETURN
  ipt -A WEFT_OUTPUT -d "$loopback" -j RETURN
  for p in $WEFT_OUTBOUND_EXCLUDE; do ipt -A WEFT_OUTPUT -p tcp --dport "$p" -j RETURN; done
  ipt -A WEFT_OUTPUT -j WEFT_REDIRECT
}
ipt() { "$tool" -w -t nat "$@"; }
capture iptables 127.0.0.1/32
# IPv6 too (dual-stack pods): otherwise IPv6 connections would bypass the proxy, and mTLS with them. A kernel
# without IPv6 nat has no IPv6 pod traffic to capture.
if ip6tables -w -t nat -S >/dev/null 2>&1; then
  capture ip6tables ::1/128
else
  echo "weft-init: no IPv6 nat table; only IPv4 is captured" >&2
fi
`;

/** The environment the script reads. */
export function iptablesEnv(excludeInbound: readonly number[], excludeOutbound: readonly number[]): Array<{ name: string; value: string }> {
  return [
    { name: 'WEFT_PROXY_UID', value: String(PROXY_UID) },
    { name: 'WEFT_OUTBOUND_PORT', value: String(OUTBOUND_PORT) },
    { name: 'WEFT_INBOUND_PORT', value: String(INBOUND_PORT) },
    { name: 'WEFT_INBOUND_EXCLUDE', value: excludeInbound.join(' ') },
    { name: 'WEFT_OUTBOUND_EXCLUDE', value: excludeOutbound.join(' ') },
  ];
}
