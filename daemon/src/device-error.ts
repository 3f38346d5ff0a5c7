// The one error type for a refused device operation (displays, modes,
// screenshots, saving and restoring state, a control request the daemon
// cannot take). Code below the control API throws it with a reason; each way
// in maps reasons to its own codes in one place: the control API in
// control/control-errors.ts, vfio-user migration (errno) in state/migration.ts.
export type Refusal =
  /** The request is malformed or contradicts the device (a port in use, foreign guest memory). */
  | 'invalid'
  | 'no-such-display'
  /** A mode outside 1..65535 x 1..65535 @ (0, 1000] Hz, or a mode list empty or too long. */
  | 'bad-mode'
  /** A request or saved state of another schema version. */
  | 'version-mismatch'
  /** A saved state of the other device variant (pci / mmio). */
  | 'wrong-variant'
  /** Not possible with this backend or build. */
  | 'unsupported'
  /** Every display port is in use. */
  | 'no-free-port'
  /** A request or state over the control limit, or a state bigger than restore could take. */
  | 'too-large';

export class DeviceError extends Error {
  constructor(
    readonly reason: Refusal,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}
