import { Errno } from './constants.js';

/** A request the peer got wrong: answered with an error reply carrying `errno`. */
export class VfioUserError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = 'VfioUserError';
  }
}

export const invalid = (message: string): VfioUserError => new VfioUserError(Errno.EINVAL, message);

/** Maps any thrown value to an errno for the reply (native errors carry `.errno`). */
export function errnoOf(err: unknown): number {
  if (err instanceof VfioUserError) return err.errno;
  const n = (err as { errno?: unknown } | null)?.errno;
  return typeof n === 'number' && n > 0 ? n : Errno.EIO;
}
