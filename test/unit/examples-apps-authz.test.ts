// The example apps of the security tasks: ext-authz (Istio's sample authorizer; its gRPC answers checked by
// decoding them with Envoy's own protos), tcp-echo, and the curl pod's http and tcp tools. Each app runs as a child
// process on free loopback ports.
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import path from 'node:path';
import protobuf from 'protobufjs';

const root = path.resolve(import.meta.dirname, '../..');
const apps = path.join(root, 'examples/apps');
const envoy = protobuf.Root.fromJSON(JSON.parse(readFileSync(path.join(root, 'src/translate/envoy/descriptor.json'), 'utf8')));
const CheckRequest = envoy.lookupType('envoy.service.auth.v3.CheckRequest');
const CheckResponse = envoy.lookupType('envoy.service.auth.v3.CheckResponse');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as net.AddressInfo; s.close(() => resolve(port)); });
  });
}

function run(app: string, args: string[]): Promise<any> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(apps, `${app}.ts`), ...args], { timeout: 10_000 }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout));
    });
  });
}

describe('example apps for the security tasks', function () {
  this.timeout(15_000);
  const children: ChildProcess[] = [];

  async function start(app: string, args: string[], env: Record<string, string>, lines: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, [path.join(apps, `${app}.ts`), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      let seen = 0;
      child.stdout!.on('data', (d: Buffer) => { seen += (String(d).match(/listening/g) ?? []).length; if (seen >= lines) resolve(); });
      child.once('exit', (code) => reject(new Error(`${app} exited ${code}`)));
    });
    return child;
  }

  function grpcCheck(port: number, request: Record<string, unknown>): Promise<{ status: string | undefined; message: any }> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', reject);
      const msg = Buffer.from(CheckRequest.encode(CheckRequest.fromObject(request)).finish());
      const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, 0]), msg]);
      frame.writeUInt32BE(msg.length, 1);
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc', te: 'trailers' });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      stream.on('trailers', (t) => { status = String(t['grpc-status']); });
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        session.close();
        const body = Buffer.concat(chunks);
        resolve({ status, message: CheckResponse.toObject(CheckResponse.decode(body.subarray(5, 5 + body.readUInt32BE(1))), { enums: Number }) });
      });
      stream.end(frame);
    });
  }

  after(() => { for (const c of children) if (c.exitCode === null) c.kill('SIGKILL'); });

  it('ext-authz over HTTP allows x-ext-authz: allow and denies the rest with 403 and the result header', async () => {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    await start('ext-authz', [], { HTTP_PORT: String(httpPort), GRPC_PORT: String(grpcPort) }, 2);
    const allow = (await run('curl', ['http', `http://127.0.0.1:${httpPort}/headers`, '-H', 'x-ext-authz: allow'])).results[0];
    expect(allow.status).to.equal(200);
    expect(allow.headers['x-ext-authz-check-result']).to.equal('allowed');
    const deny = (await run('curl', ['http', `http://127.0.0.1:${httpPort}/headers`, '-X', 'POST', '-H', 'x-ext-authz: deny'])).results[0];
    expect(deny.status).to.equal(403);
    expect(deny.headers['x-ext-authz-check-result']).to.equal('denied');
    expect(deny.body).to.equal('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
  });

  it('ext-authz over gRPC answers Envoy CheckRequests with ok_response or denied_response', async () => {
    const [httpPort, grpcPort] = [await freePort(), await freePort()];
    await start('ext-authz', [], { HTTP_PORT: String(httpPort), GRPC_PORT: String(grpcPort) }, 2);
    const req = (headers: Record<string, string>, principal = 'spiffe://cluster.local/ns/foo/sa/curl') => ({
      attributes: { source: { principal }, request: { http: { method: 'GET', path: '/headers', host: 'httpbin.foo:8000', headers } } },
    });
    const allowed = await grpcCheck(grpcPort, req({ 'x-ext-authz': 'allow' }));
    expect(allowed.status).to.equal('0');
    expect(allowed.message.status?.code ?? 0).to.equal(0);
    expect(allowed.message.okResponse.headers).to.deep.equal([{ header: { key: 'x-ext-authz-check-result', value: 'allowed' } }]);
    const denied = await grpcCheck(grpcPort, req({ 'x-ext-authz': 'deny' }));
    expect(denied.message.status.code).to.equal(7);
    expect(denied.message.deniedResponse.status.code).to.equal(403);
    expect(denied.message.deniedResponse.headers).to.deep.equal([{ header: { key: 'x-ext-authz-check-result', value: 'denied' } }]);
    expect(denied.message.deniedResponse.body).to.match(/^denied by ext_authz/);
    // The sample's allowed service account (`a` by default) passes without the header.
    const bySa = await grpcCheck(grpcPort, req({}, 'spiffe://cluster.local/ns/foo/sa/a'));
    expect(bySa.message.okResponse).to.not.equal(undefined);
  });

  it('tcp-echo prefixes hello on every port it was given; curl tcp reports a refused port', async () => {
    const [a, b] = [await freePort(), await freePort()];
    await start('tcp-echo', [String(a), String(b)], {}, 2);
    expect(await run('curl', ['tcp', '127.0.0.1', String(a), 'port', String(a)])).to.deep.equal({ reply: `hello port ${a}\n` });
    expect(await run('curl', ['tcp', '127.0.0.1', String(b), 'world'])).to.deep.equal({ reply: 'hello world\n' });
    const closed = await freePort();
    expect(await run('curl', ['tcp', '127.0.0.1', String(closed), 'x'])).to.have.property('error').that.matches(/ECONNREFUSED/);
  });
});
