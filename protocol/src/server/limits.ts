// What a server session allows its client, and the message size that follows.
import { Limits } from '../constants.js';

export interface ServerLimits {
  /** Advertised max_msg_fds (QEMU accepts at most 16). */
  maxMsgFds: number;
  maxDataXferSize: number;
  maxDmaMaps: number;
  pgsizes: number;
  /** Advertise write_multiple (only safe with QEMU >= 11.0, see docs/design.md P12). */
  writeMultiple: boolean;
}

export const defaultServerLimits: ServerLimits = {
  maxMsgFds: 16,
  maxDataXferSize: Limits.DEFAULT_MAX_DATA_XFER,
  maxDmaMaps: 4096,
  pgsizes: 4096,
  writeMultiple: false,
};

/** Largest message the transport should accept: a maximal region write plus headers. */
export function maxMessageSize(limits: ServerLimits): number {
  return limits.maxDataXferSize + 64 * 1024;
}
