// A viewer's resize (VNC SetDesktopSize, the browser viewer's window size):
// width x height, at the preferred mode's rate, becomes the first of the
// display's modes, the others kept after it, through Displays.setModes as
// `ctl display modes` does. The guest sees the new list (the soft device in
// its display port registers, docs/soft-device.md; PVG as a new mode list)
// and switches when it follows its preferred mode; the viewers' framebuffers
// change size then.
import type { Displays } from './displays.js';
import type { DisplaySource } from './display-source.js';
import { MAX_MODES } from './modes.js';

/** How long a resize waits for the backend's mode switch when the current mode leaves the list. */
const SWITCH_WAIT_MS = 200;

/** Resolves with null when the list was applied, else why not (the backend or the mode check refused it). */
export async function preferSize(displays: Displays, display: DisplaySource, width: number, height: number): Promise<string | null> {
  // A device operation (device-ops.ts): after a reset, save or restore under way.
  let changed: { switched: Promise<void> | null };
  try {
    changed = await displays.ops.run('display resize', () => {
      const rate = display.modes[0]?.refreshHz ?? 60;
      const modes = [{ width, height, refreshHz: rate }, ...display.modes.filter((m) => m.width !== width || m.height !== height)].slice(
        0,
        MAX_MODES,
      );
      const keeps = modes.some((m) => m.width === display.width && m.height === display.height);
      // When the backend must leave the current mode it reports the switch: answer after it (SWITCH_WAIT_MS at most).
      let done = (): void => {};
      const switched = keeps
        ? null
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => (display.off('mode', done), resolve()), SWITCH_WAIT_MS);
            done = () => (clearTimeout(timer), resolve());
            display.once('mode', done);
          });
      try {
        displays.setModes(display.port, modes);
      } catch (e) {
        display.off('mode', done);
        done();
        throw e;
      }
      return { switched }; // not awaited inside the operation
    });
  } catch (e) {
    return (e as Error).message;
  }
  await changed.switched;
  return null;
}
