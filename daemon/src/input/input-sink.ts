// Where viewers' keyboard and pointer events go (QEMU over QMP when --qmp is
// given; nowhere otherwise). Viewers call it on the JS thread; it never blocks.
export interface KeyEvent {
  down: boolean;
  /** X11 keysym, as RFB KeyEvent carries it. */
  keysym?: number;
  /** DOM KeyboardEvent.code ("KeyA", "Enter", ...), as the web viewer sends it. */
  code?: string;
  /**
   * The key's XT scancode as QEMU numbers keys (set 1; 0xE0-prefixed keys
   * as 0x80 | code), from RFB's QEMU Extended Key Event: names the physical
   * key whatever the viewer's keyboard layout. Preferred over `keysym`.
   */
  scancode?: number;
}

export interface PointerEvent {
  /** Display port the pointer is on. */
  port: number;
  /** Position in that display's pixels. */
  x: number;
  y: number;
  /** Buttons held, RFB style: 1 left, 2 middle, 4 right, 8 wheel up, 16 wheel down. */
  buttons: number;
}

export interface InputSink {
  key(ev: KeyEvent): void;
  pointer(ev: PointerEvent): void;
}

/** Used when no VMM input channel is configured: events are counted and dropped. */
export class NullInput implements InputSink {
  keys = 0;
  pointers = 0;
  key(): void {
    this.keys++;
  }
  pointer(): void {
    this.pointers++;
  }
}
