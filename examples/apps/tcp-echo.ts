// tcp-echo: Istio's samples/tcp-echo. Listens on every port given as an argument (default 9000), and answers each
// line it receives with `<PREFIX> <line>` (PREFIX from the env, default `hello`): "world" → "hello world".
// One line per port when listening; SIGTERM closes the listeners and exits 0.
import net from 'node:net';

const prefix = process.env.PREFIX ?? 'hello';
const ports = process.argv.slice(2).map(Number);
if (ports.length === 0) ports.push(Number(process.env.PORT || 9000));

const servers = ports.map((port) => {
  const server = net.createServer((sock) => {
    sock.on('error', () => sock.destroy());
    let pending = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        sock.write(`${prefix} ${pending.slice(0, nl)}\n`);
        pending = pending.slice(nl + 1);
      }
    });
    sock.on('end', () => {
      if (pending) sock.write(`${prefix} ${pending}\n`);
      sock.end();
    });
  });
  server.listen(port, '0.0.0.0', () => console.log(`tcp-echo ${process.env.APP_VERSION ?? ''} listening on 0.0.0.0:${port}`));
  return server;
});

const stop = (): void => {
  for (const s of servers) s.close();
  setTimeout(() => process.exit(0), 200).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
