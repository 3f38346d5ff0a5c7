// Starts the chosen backend (native) and routes its events to the displays.
import type { BackendChoice } from './backends.js';
import type { Variant } from './device/apple-gfx-pci.js';
import { native, type BackendEvent, type NativeBackend } from './native.js';

export type MemoryModel = 'tasks' | 'static';
const MEMORY_MODEL = { tasks: 0, static: 1 } as const;

export function startBackend(
  choice: BackendChoice,
  variant: Variant,
  memoryModel: MemoryModel,
  onEvents: (events: BackendEvent[]) => void,
): NativeBackend {
  if (choice.kind === 'pvg' && process.platform !== 'darwin') throw new Error('the pvg backend needs macOS (ParavirtualizedGraphics.framework)');
  // No displayPorts: the device gets as many as its backend offers (backend.displayPorts).
  const opts = { variant: variant === 'mmio' ? 1 : 0, memoryModel: MEMORY_MODEL[memoryModel] };
  return new native.Backend(choice.kind, choice.path ?? '', opts, onEvents);
}
