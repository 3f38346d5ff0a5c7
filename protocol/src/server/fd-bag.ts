import { closeSync } from 'node:fs';

/**
 * The fds that came with one message. Whatever a handler does not explicitly
 * take is closed when the message is done (docs/design.md P18: every fd is a fresh dup).
 */
export class FdBag {
  private readonly owned: (number | null)[];
  constructor(fds: readonly number[]) {
    this.owned = [...fds];
  }
  get length(): number {
    return this.owned.length;
  }
  peek(i: number): number {
    const fd = this.owned[i];
    if (fd === undefined || fd === null) throw new Error(`no fd ${i}`);
    return fd;
  }
  all(): number[] {
    return this.owned.filter((fd): fd is number => fd !== null);
  }
  /** The handler now owns every fd (they must not be closed here). */
  releaseAll(): void {
    this.owned.fill(null);
  }
  closeRemaining(): number {
    let n = 0;
    for (const fd of this.owned) {
      if (fd === null) continue;
      try {
        closeSync(fd);
        n++;
      } catch {
        // already closed elsewhere: nothing to release
      }
    }
    this.owned.fill(null);
    return n;
  }
}
