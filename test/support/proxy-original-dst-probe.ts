// Test fixture run inside a network namespace by proxy-net-original-dst.test.ts: listens on the REDIRECT target
// port, connects to each fake destination given on the command line, and prints what SO_ORIGINAL_DST says for
// every accepted connection as one JSON line.
import { createServer, connect } from 'node:net';
import type { Socket } from 'node:net';
import { originalDestination } from '../../src/proxy/net/original-dst.ts';

const [listenPort, ...targets] = process.argv.slice(2);
const results: unknown[] = [];
const server = createServer({ allowHalfOpen: false }, (socket: Socket) => {
  try {
    results.push(originalDestination(socket));
  } catch (e) {
    results.push({ error: (e as Error).message });
  }
  socket.end();
});
server.listen(Number(listenPort), '::', async () => {
  for (const t of targets) {
    const i = t.lastIndexOf(':');
    await new Promise<void>((resolve) => {
      const c = connect({ host: t.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(t.slice(i + 1)) });
      c.on('error', (e) => { results.push({ error: `connect ${t}: ${e.message}` }); resolve(); });
      c.on('close', () => resolve());
      c.resume();
    });
  }
  process.stdout.write(`${JSON.stringify(results)}\n`);
  server.close();
});
