// The proxy bench's upstream: a node:http server answering every request with 200 and the same 1024-byte body,
// keep-alive. Run as its own process (`node bench/proxy-app.ts [port]`) so that the app costs the same CPU in every
// variant (direct, behind nginx, behind the sidecars); it prints `{"port":N}` on stdout once listening.
import { createServer } from 'node:http';

const BODY = Buffer.alloc(1024, 'x');
const port = Number(process.argv[2] ?? 0);

const server = createServer((req, res) => {
  // Drain any request body before answering, so the connection stays reusable.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
    res.end(BODY);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(port, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
// The bench owns this process: when its stdin closes (the bench exited or died), stop too.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
