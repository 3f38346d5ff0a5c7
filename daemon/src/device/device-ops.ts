// The device's operations that take a long backend call (docs/design.md,
// "Long backend calls"): a reset, a save or restore, a migration step, a
// client leaving. The backend call itself runs off the JS thread (the addon's
// *Async methods), so viewers, control and QMP go on meanwhile; what must not
// go on is another operation on the same device. So operations run one at a
// time, in the order they were asked for, and while one is under way:
//  - the vfio-user session handles no message (vfio-server.ts waits for
//    idle(); the client's MMIO goes on natively, as it always could beside a
//    control-API call);
//  - display changes from the control API or a viewer wait their turn (run);
//  - read-outs find the backend busy and keep the frame they have
//    (DisplaySource.latest), and read again once the operation is over.
// The addon enforces the rest: while its long call runs, every other call
// from JS is refused with EBUSY.
// Bound: nobody has more than one operation queued. The vfio-user client's
// next message waits for its last one; each control connection handles one
// request at a time (control-server.ts, at most MAX_CLIENTS connections);
// each viewer applies one resize at a time. So the queue holds at most one
// operation per connected client and viewer, all of them already bounded.
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { NativeBackend } from '../native.js';

/** An operation still running after this long is reported ('slow'), and again every as long. */
export const SLOW_OPERATION_MS = 5000;

export class DeviceOps extends EventEmitter<{ idle: []; slow: [name: string, seconds: number] }> {
  private tail: Promise<unknown> = Promise.resolve();
  private queued = 0;
  private current: string | null = null;
  private startedAt = 0;

  /** `slowMs`: SLOW_OPERATION_MS unless a test asks for less. */
  constructor(private readonly slowMs = SLOW_OPERATION_MS) {
    super();
  }

  /** True from the moment an operation is asked for until the last one queued has ended. */
  get busy(): boolean {
    return this.queued > 0;
  }

  /** The operation under way (for logs and status), or null. */
  get running(): string | null {
    return this.current;
  }

  /** The operation under way, how long it has run and how many are asked for (itself included), for `ctl status`. */
  status(): { name: string; runningSeconds: number; queued: number } | null {
    if (this.current === null) return null;
    return { name: this.current, runningSeconds: (performance.now() - this.startedAt) / 1000, queued: this.queued };
  }

  /**
   * Runs `op` after every operation asked for before it, alone. `op` must
   * not call run() itself (it would wait for itself): the pieces an
   * operation is made of are plain async functions.
   */
  run<T>(what: string, op: () => T | Promise<T>): Promise<T> {
    this.queued++;
    const result = this.tail.then(async () => {
      this.current = what;
      this.startedAt = performance.now();
      // A backend call that does not come back (PVG stuck) shows in the log
      // and in `ctl status`, not as silence.
      const slow = setInterval(() => this.emit('slow', what, (performance.now() - this.startedAt) / 1000), this.slowMs);
      slow.unref();
      try {
        return await op();
      } finally {
        clearInterval(slow);
      }
    });
    this.tail = result.then(
      () => this.ended(),
      () => this.ended(),
    );
    return result;
  }

  /** Resolves once no operation is queued or running (at once when none is). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.once('idle', resolve));
  }

  private ended(): void {
    this.current = null;
    if (--this.queued === 0) this.emit('idle');
  }
}

const opsOf = new WeakMap<NativeBackend, DeviceOps>();

/** The one queue of operations for this backend's device. */
export function deviceOps(backend: NativeBackend): DeviceOps {
  let ops = opsOf.get(backend);
  if (!ops) opsOf.set(backend, (ops = new DeviceOps()));
  ops.setMaxListeners(0);
  return ops;
}
