// An input sink that keeps what the viewers send it, for tests to look at.
import type { InputSink, KeyEvent, PointerEvent } from '#daemon/input/input-sink.js';

export class SpyInput implements InputSink {
  keys: KeyEvent[] = [];
  pointers: PointerEvent[] = [];
  key(ev: KeyEvent): void {
    this.keys.push(ev);
  }
  pointer(ev: PointerEvent): void {
    this.pointers.push(ev);
  }
}
