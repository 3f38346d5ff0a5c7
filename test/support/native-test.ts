// The test addon (native/testing/, agfx_native_test.node): every binding of
// the shipped addon plus hooks that call host services exactly as a backend
// does. It is a separate module with its own guest-memory table, so a test
// that uses a hook does everything else through it too (gmMap etc.).
import { createRequire } from 'node:module';
import { locateAddon, type NativeAddon } from '#daemon/native.js';

export interface NativeTestAddon extends NativeAddon {
  /** agfx_host.memory_map_acquire as a backend calls it (token null: did not fit, or failed). */
  testMemoryMapAcquire(max: number): {
    token: number | null;
    count: number;
    ranges: { gpa: bigint; len: bigint; host: bigint }[];
  };
  /** A fault-safe copy from a raw host address; null where nothing is mapped. */
  testMemoryMapRead(host: bigint, len: number): Buffer | null;
  /** agfx_host.memory_map_release, on the JS thread or on a native thread. */
  testMemoryMapRelease(token: number, fromThread?: boolean): boolean;
  /** Snapshots acquired and not yet released. */
  testMemoryMapLive(): number;
  /** A zero-fill task (what pvg asks for) touched as a GPU would; see native/testing/test_hooks.cc. */
  testTaskSemantics(): Record<
    | 'bigTask'
    | 'holeReadsZero'
    | 'holeWritable'
    | 'mapped'
    | 'roStrayWriteKept'
    | 'guestRamUnchanged'
    | 'unmapReadsZero'
    | 'dmaUnmapReadsZero'
    | 'strictHoleFaults',
    boolean
  > & { pageSize: number };
}

export const nativeTest = createRequire(import.meta.url)(locateAddon('agfx_native_test.node')) as NativeTestAddon;
