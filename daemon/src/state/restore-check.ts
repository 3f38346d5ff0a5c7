// What a device state asks of the daemon, checked whole before anything
// changes (docs/control.md: "a bad request never changes the device"; issue
// 12 defect 5). The displays go through the same checks as `display add`
// (Displays.checkSet: ports, checkModes, the frame-memory budget); a
// refusal is a DeviceError('invalid') naming what is wrong.
import { DeviceError } from '../device-error.js';
import type { Displays } from '../display/displays.js';
import { frameBytes } from '../display/modes.js';
import type { DisplayModeSpec } from '../native.js';
import type { DeviceState } from './device-state-types.js';

/** Longest display name a state may carry (names go into logs and viewers). */
const MAX_NAME = 256;

export interface WantedDisplay {
  port: number;
  name: string;
  modes: DisplayModeSpec[];
}

/** Checks the displays of a decoded state and returns them, checked. Throws DeviceError('invalid'). */
export function checkRestoreDisplays(displays: Displays, s: DeviceState): WantedDisplay[] {
  let lists: DisplayModeSpec[][];
  try {
    lists = displays.checkSet(s.displays.map((d) => ({ port: d.port, modes: d.modes })));
  } catch (e) {
    throw new DeviceError('invalid', `displays of the state: ${(e as Error).message}`);
  }
  return s.displays.map((d, i) => {
    if (d.name.length > MAX_NAME) throw new DeviceError('invalid', `display ${d.port}: name longer than ${MAX_NAME}`);
    return { port: d.port, name: d.name, modes: lists[i]! };
  });
}

/**
 * Makes the daemon's displays match `wanted` (already checked); returns how
 * to put back the set it found, for a backend that refuses the state
 * afterwards. Removals and shrinking mode lists go first, growing ones and
 * new displays last, so the frame memory in use never passes the larger of
 * the old and the new set's.
 */
export function applyDisplays(displays: Displays, wanted: WantedDisplay[]): () => void {
  const was = displays.list().map((d) => ({ port: d.port, name: d.name, modes: d.modes }));
  converge(displays, wanted);
  return () => converge(displays, was);
}

function converge(displays: Displays, goal: WantedDisplay[]): void {
  const want = new Map(goal.map((d) => [d.port, d]));
  for (const d of displays.list()) if (!want.has(d.port)) displays.detach(d.port);
  const existing = goal.filter((d) => displays.get(d.port));
  const growth = (d: WantedDisplay): number => frameBytes(d.modes) - frameBytes(displays.get(d.port)!.modes);
  for (const d of existing.sort((a, b) => growth(a) - growth(b))) displays.setModes(d.port, d.modes);
  for (const d of goal) if (!displays.get(d.port)) displays.attach(d.modes, d.port, d.name || undefined);
}
