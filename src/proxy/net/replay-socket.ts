// A connection whose first bytes were already read by protocol detection, as a Duplex that yields those bytes
// again before the rest. Needed because Node's HTTP and TLS servers read a net.Socket through its native handle
// and would never see data pushed back with `socket.unshift()`; a plain Duplex makes them read the JS stream.
// Writes, half-close, destroy, timeouts and the address getters go to the underlying socket.
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

export class ReplaySocket extends Duplex {
  readonly socket: Socket;
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs = 0;

  constructor(socket: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    if (head.length > 0) this.push(head);
    socket.on('data', (chunk: Buffer) => {
      this.#touch();
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (e) => this.destroy(e));
    socket.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
    if (socket.readableEnded) this.push(null);
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.#touch();
    this.socket.write(chunk, encoding, cb);
  }

  override _final(cb: (e?: Error | null) => void): void {
    this.socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.socket.destroy(err ?? undefined);
    cb(err);
  }

  /** Like net.Socket#setTimeout: emits 'timeout' after `ms` without activity (0 turns it off). */
  setTimeout(ms: number, onTimeout?: () => void): this {
    this.#timeoutMs = ms;
    if (onTimeout) this.once('timeout', onTimeout);
    this.#touch();
    return this;
  }

  #touch(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#timeoutMs > 0 && !this.destroyed) {
      this.#timer = setTimeout(() => this.emit('timeout'), this.#timeoutMs);
      this.#timer.unref();
    }
  }

  setNoDelay(noDelay?: boolean): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable?: boolean, delay?: number): this {
    this.socket.setKeepAlive(enable, delay);
    return this;
  }

  ref(): this {
    this.socket.ref();
    return this;
  }

  unref(): this {
    this.socket.unref();
    return this;
  }

  get remoteAddress(): string | undefined { return this.socket.remoteAddress; }
  get remotePort(): number | undefined { return this.socket.remotePort; }
  get remoteFamily(): string | undefined { return this.socket.remoteFamily; }
  get localAddress(): string | undefined { return this.socket.localAddress; }
  get localPort(): number | undefined { return this.socket.localPort; }
  get bytesWritten(): number { return this.socket.bytesWritten; }
  get bytesRead(): number { return this.socket.bytesRead; }
}

/** The connection to hand on: the socket itself when detection never touched it, else a replaying Duplex (also
 * for zero bytes read: detection paused the socket, and the Duplex resumes it when its reader wants data). */
export function withHead(socket: Socket, head: Buffer, sniffed: boolean): Socket | ReplaySocket {
  return sniffed || head.length > 0 ? new ReplaySocket(socket, head) : socket;
}
