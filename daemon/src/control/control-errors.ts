// Refused device operations -> control API error codes: the one place the
// mapping lives. Anything that is not a DeviceError is a daemon bug: INTERNAL.
import { DeviceError, type Refusal } from '../device-error.js';
import type { Error as ErrorReply, Error_Code } from './control-types.js';

const CODE: Record<Refusal, Error_Code> = {
  invalid: 'BAD_REQUEST',
  'no-such-display': 'UNKNOWN_DISPLAY',
  'bad-mode': 'BAD_MODE',
  'version-mismatch': 'VERSION_MISMATCH',
  'wrong-variant': 'WRONG_VARIANT',
  unsupported: 'UNSUPPORTED',
  'no-free-port': 'NO_FREE_PORT',
  'too-large': 'TOO_LARGE',
};

export function errorReply(e: unknown): ErrorReply {
  const message = e instanceof Error ? e.message : String(e);
  return { code: e instanceof DeviceError ? CODE[e.reason] : 'INTERNAL', message };
}
