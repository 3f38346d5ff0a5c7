// The four self-test registers every apple-gfxd device has (docs/soft-device.md):
// ID, version, scratch, and interrupt self-test. They let a guest (or a test)
// prove the BAR, the socket and interrupt delivery work without a driver.
export const SelftestReg = {
  ID: 0x1000,
  VERSION: 0x1004,
  SCRATCH: 0x1008,
  IRQ_TEST: 0x100c,
} as const;

/** "AGFX" in little-endian bytes. */
export const AGFX_ID = 0x58464741;
/** major << 16 | minor. */
export const AGFX_VERSION = 0x00010000;

export class SelftestRegisters {
  private scratch = 0;

  constructor(
    private readonly vectors: number,
    private readonly raise: (vector: number) => void,
    private readonly guestError: (what: string, detail: object) => void,
  ) {}

  /** Returns the value, or undefined when the offset is not one of ours. */
  read(offset: number): number | undefined {
    switch (offset) {
      case SelftestReg.ID:
        return AGFX_ID;
      case SelftestReg.VERSION:
        return AGFX_VERSION;
      case SelftestReg.SCRATCH:
        return this.scratch;
      case SelftestReg.IRQ_TEST:
        return this.vectors;
      default:
        return undefined;
    }
  }

  /** Returns false when the offset is not one of ours. */
  write(offset: number, value: number): boolean {
    switch (offset) {
      case SelftestReg.SCRATCH:
        this.scratch = value >>> 0;
        return true;
      case SelftestReg.IRQ_TEST:
        if (value < this.vectors) this.raise(value);
        else this.guestError('interrupt self-test of a vector the device does not have', { vector: value, vectors: this.vectors });
        return true;
      case SelftestReg.ID:
      case SelftestReg.VERSION:
        this.guestError('write to a read-only self-test register', { offset, value });
        return true;
      default:
        return false;
    }
  }

  reset(): void {
    this.scratch = 0;
  }
}
