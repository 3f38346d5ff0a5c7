// What a command handler is and what it sees of the session. Each handler
// decodes and checks its message, calls the device, and returns the reply
// payload (undefined = header only).
import type { Capabilities } from '../codec/version.js';
import type { VfioUserDevice } from '../device.js';
import type { Header } from '../header.js';
import type { Logger } from '../logger.js';
import type { FdBag } from './fd-bag.js';
import type { ServerLimits } from './limits.js';

export interface HandlerContext {
  readonly device: VfioUserDevice;
  readonly limits: ServerLimits;
  readonly log: Logger;
  negotiated: Capabilities | null;
  readonly maxDataXferSize: number;
}

export interface Handler {
  acceptsFds: boolean;
  handle(ctx: HandlerContext, h: Header, payload: Buffer, fds: FdBag): Buffer | undefined;
}
