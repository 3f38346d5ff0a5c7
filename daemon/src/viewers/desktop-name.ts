// The name viewers show for a display (RFB ServerInit, the DesktopName
// pseudo-encoding, the window title of TigerVNC and noVNC): the display's own
// name, and the VM's name while QEMU's QMP socket tells it (`query-name`,
// QEMU's -name), as QEMU's own VNC server titles its desktops "QEMU (name)".
// QMP connects after the viewers start, and QEMU restarts under a running
// daemon (docs/design.md P17), so the name changes while viewers watch.
import { EventEmitter } from 'node:events';

/** At most this many characters of the VM's name are shown (it comes from QEMU: bounded, docs/design.md invariant 4). */
export const MAX_VM_NAME = 128;

export class DesktopNames extends EventEmitter<{ changed: [] }> {
  private vm: string | null = null;

  get vmName(): string | null {
    return this.vm;
  }

  /** The VM's name from QMP, or null when QMP is gone or QEMU has none. */
  setVmName(name: string | null): void {
    // Control characters would end up in window titles: spaces instead.
    const clean =
      name === null
        ? null
        : [...name.slice(0, MAX_VM_NAME)]
            .map((c) => (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f ? ' ' : c))
            .join('')
            .trim() || null;
    if (clean === this.vm) return;
    this.vm = clean;
    this.emit('changed');
  }

  /** What a viewer of `display` is told. */
  of(display: { name: string }): string {
    return this.vm ? `${display.name} (${this.vm})` : display.name;
  }
}
