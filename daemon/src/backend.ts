// Starts the chosen backend (native) and routes its events to the displays.
import type { BackendChoice } from './backends.js';
import type { Variant } from './device/apple-gfx-pci.js';
import { native, type BackendEvent, type NativeBackend } from './native.js';
import { pvgDoubleLibrary } from './pvg-double.js';

/** Ports the soft backend supports (docs/soft-device.md DISPLAYS). */
export const SOFT_DISPLAY_PORTS = 4;

export type MemoryModel = 'tasks' | 'static';
const MEMORY_MODEL = { tasks: 0, static: 1 } as const;

export function startBackend(
  choice: BackendChoice,
  variant: Variant,
  displayPorts: number,
  memoryModel: MemoryModel,
  onEvents: (events: BackendEvent[]) => void,
): NativeBackend {
  const opts = { variant: variant === 'mmio' ? 1 : 0, displayPorts, memoryModel: MEMORY_MODEL[memoryModel] };
  if (choice.kind === 'pvg' && process.platform !== 'darwin') {
    // Linux: the pvg backend built against the PVG double (test-only).
    const lib = pvgDoubleLibrary();
    if (!lib) throw new Error('the pvg backend needs macOS (ParavirtualizedGraphics.framework); on Linux build the PVG double first: npm run build:pvg-double');
    return new native.Backend('lib', lib, opts, onEvents);
  }
  return new native.Backend(choice.kind, choice.path ?? '', opts, onEvents);
}
