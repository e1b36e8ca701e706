// The connection's destination before iptables REDIRECT sent it to a capture port: a net.Socket in, the
// original `{address, port, family}` out, read by the native addon (native/original-dst, built by
// hack/build-addon.sh) with getsockopt(SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

interface OriginalDestination {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

interface Addon {
  originalDst(fd: number): OriginalDestination;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));

let addon: Addon | undefined;

/** Loads the addon once; throws an error that says how to build it when it is missing. */
function loadOriginalDst(path = ADDON_PATH): Addon {
  if (addon) return addon;
  if (!existsSync(path)) {
    throw new Error(`the SO_ORIGINAL_DST addon is not built (${path} is missing): run \`bash hack/build-addon.sh\``);
  }
  addon = createRequire(import.meta.url)(path) as Addon;
  return addon;
}

/**
 * The file descriptor behind a net.Socket. Node has no public API for it; the libuv TCP handle carries it as
 * `socket._handle.fd` (internal, but stable for TCP handles on Unix). getsockopt must run on the accepted socket
 * itself, because the original destination is looked up from that socket's connection-tracking entry.
 */
export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } })._handle;
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('the socket has no file descriptor (closed, or not a TCP socket)');
  return fd;
}

/** SO_ORIGINAL_DST of an accepted socket. */
export function originalDestination(socket: Socket): OriginalDestination {
  return loadOriginalDst().originalDst(socketFd(socket));
}
