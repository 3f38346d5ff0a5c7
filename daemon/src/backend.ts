// Starts the chosen backend (native) and routes its events to the displays.
import type { BackendChoice } from './backends.js';
import type { Variant } from './device/apple-gfx-pci.js';
import { native, type BackendEvent, type NativeBackend } from './native.js';

/** Ports the soft backend supports (docs/soft-device.md DISPLAYS). */
export const SOFT_DISPLAY_PORTS = 4;

export function startBackend(
  choice: BackendChoice,
  variant: Variant,
  displayPorts: number,
  onEvents: (events: BackendEvent[]) => void,
): NativeBackend {
  if (choice.kind === 'pvg') throw new Error('the pvg backend is not part of this build');
  return new native.Backend(choice.kind, choice.path ?? '', { variant: variant === 'mmio' ? 1 : 0, displayPorts }, onEvents);
}
