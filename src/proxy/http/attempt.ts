// One try of a request against one upstream host: the undici dispatch handler. In: undici's callbacks for the
// upstream exchange; out: the same events to its owner (the Forward of the request), unless the owner abandoned
// this try (per-try timeout, a retry decided on its headers, the downstream went away), after which every
// callback is ignored. A class rather than closures: one object per try on the hot path.
import type { Dispatcher } from 'undici';
import type { UpstreamHost } from '../runtime.ts';
import type { HeaderBag } from './headers.ts';

type Controller = Dispatcher.DispatchController;

export interface AttemptOwner {
  attemptHeaders(a: Attempt, status: number, headers: HeaderBag): void;
  attemptData(a: Attempt, chunk: Buffer): void;
  attemptEnd(a: Attempt, trailers: HeaderBag): void;
  attemptError(a: Attempt, err: Error): void;
  attemptBodySent(bytes: number): void;
}

export class Attempt implements Dispatcher.DispatchHandler {
  readonly owner: AttemptOwner;
  readonly host: UpstreamHost;
  readonly startedAt: number;
  controller: Controller | undefined = undefined;
  /** The request reached a connected socket (an error before that is a connect failure). */
  connected = false;
  /** Response headers arrived. */
  responded = false;
  /** Abandoned or finished: later callbacks are ignored. */
  done = false;
  timer: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Release of the retry budget slot this try holds, if it is a retry. */
  releaseRetry: (() => void) | undefined = undefined;

  constructor(owner: AttemptOwner, host: UpstreamHost, startedAt: number) {
    this.owner = owner;
    this.host = host;
    this.startedAt = startedAt;
  }

  onRequestStart(controller: Controller): void {
    this.controller = controller;
    this.connected = true;
    if (this.done) controller.abort(new Error('abandoned'));
  }

  onBodySent(chunk: Buffer | string): void {
    if (!this.done) this.owner.attemptBodySent(chunk.length);
  }

  onResponseStart(_c: Controller, status: number, headers: HeaderBag): void {
    if (this.done || status < 200) return;
    this.responded = true;
    this.owner.attemptHeaders(this, status, headers);
  }

  onResponseData(_c: Controller, chunk: Buffer): void {
    if (!this.done) this.owner.attemptData(this, chunk);
  }

  onResponseEnd(_c: Controller, trailers: HeaderBag): void {
    if (this.done) return;
    this.settle();
    this.owner.attemptEnd(this, trailers);
  }

  onResponseError(_c: Controller, err: Error): void {
    if (this.done) return;
    this.settle();
    this.owner.attemptError(this, err);
  }

  /** Ends this try's bookkeeping (timer, retry slot); callbacks after this are ignored. */
  settle(): void {
    this.done = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.releaseRetry) {
      this.releaseRetry();
      this.releaseRetry = undefined;
    }
  }

  /** Stops this try; the upstream stream is reset if it started. */
  abandon(): void {
    if (this.done) return;
    this.settle();
    this.controller?.abort(new Error('abandoned by the proxy'));
  }

  pause(): void {
    this.controller?.pause();
  }

  resume(): void {
    this.controller?.resume();
  }
}
