// Files that hold what only the daemon's user may see (saved device states,
// screenshots of the guest's screen, secrets): written 0600 whatever the
// umask, and secrets read with a warning when others could read them too
// (docs/security.md, issue 12 defect 9).
import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes `data` to `path` as a new 0600 file: a temporary file created 0600
 * (O_EXCL) beside it, then renamed over `path`. An existing file is replaced,
 * never reused with its old mode, and a reader never sees half a file.
 */
export function writePrivateFile(path: string, data: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600); // the mode is masked by the umask, never widened: 0600 or less
  try {
    for (let at = 0; at < data.length;) at += writeSync(fd, data, at, data.length - at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkSync(tmp);
    throw e;
  }
}

/** Why a file holding a secret is exposed (readable by group or others), or null. */
export function exposedSecret(path: string): string | null {
  const mode = statSync(path).mode & 0o777;
  return mode & 0o044 ? `${path} is readable by other users (mode 0${mode.toString(8)}); chmod 600 it` : null;
}
