// Two sockets forwarded into each other (the load balancer and the node agent's tunnel): whichever ends or fails
// first closes the other.
import type { Socket } from 'node:net';

export function closeTogether(a: Socket, b: Socket): void {
  const close = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on('error', close);
    s.on('close', close);
  }
}
