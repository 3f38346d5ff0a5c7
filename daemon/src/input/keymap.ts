// Key names QEMU's input-send-event takes (QKeyCode), from what viewers send:
// RFB X11 keysyms and DOM KeyboardEvent.code values.

const NAMED_KEYSYMS: Record<number, string> = {
  0xff08: 'backspace',
  0xff09: 'tab',
  0xff0d: 'ret',
  0xff1b: 'esc',
  0xffff: 'delete',
  0xff50: 'home',
  0xff51: 'left',
  0xff52: 'up',
  0xff53: 'right',
  0xff54: 'down',
  0xff55: 'pgup',
  0xff56: 'pgdn',
  0xff57: 'end',
  0xff63: 'insert',
  0xff13: 'pause',
  0xff61: 'print',
  0xffe1: 'shift',
  0xffe2: 'shift_r',
  0xffe3: 'ctrl',
  0xffe4: 'ctrl_r',
  0xffe5: 'caps_lock',
  0xffe9: 'alt',
  0xffea: 'alt_r',
  0xffe7: 'meta_l',
  0xffe8: 'meta_r',
  0xffeb: 'meta_l',
  0xffec: 'meta_r',
  0xff7f: 'num_lock',
  0xff14: 'scroll_lock',
  0xff67: 'menu',
  0x20: 'spc',
  0x2d: 'minus',
  0x3d: 'equal',
  0x5b: 'bracket_left',
  0x5d: 'bracket_right',
  0x3b: 'semicolon',
  0x27: 'apostrophe',
  0x60: 'grave_accent',
  0x5c: 'backslash',
  0x2c: 'comma',
  0x2e: 'dot',
  0x2f: 'slash',
};

/** Shifted characters produce the keysym of the symbol; QEMU wants the key. */
const SHIFTED: Record<string, string> = {
  '!': '1',
  '@': '2',
  '#': '3',
  $: '4',
  '%': '5',
  '^': '6',
  '&': '7',
  '*': '8',
  '(': '9',
  ')': '0',
  _: 'minus',
  '+': 'equal',
  '{': 'bracket_left',
  '}': 'bracket_right',
  ':': 'semicolon',
  '"': 'apostrophe',
  '~': 'grave_accent',
  '|': 'backslash',
  '<': 'comma',
  '>': 'dot',
  '?': 'slash',
};

export function keysymToQcode(keysym: number): string | null {
  if (keysym >= 0x61 && keysym <= 0x7a) return String.fromCharCode(keysym);
  if (keysym >= 0x41 && keysym <= 0x5a) return String.fromCharCode(keysym + 0x20);
  if (keysym >= 0x30 && keysym <= 0x39) return String.fromCharCode(keysym);
  if (keysym >= 0xffbe && keysym <= 0xffc9) return `f${keysym - 0xffbe + 1}`;
  const named = NAMED_KEYSYMS[keysym];
  if (named) return named;
  if (keysym >= 0x21 && keysym <= 0x7e) return SHIFTED[String.fromCharCode(keysym)] ?? null;
  return null;
}

const NAMED_CODES: Record<string, string> = {
  Enter: 'ret',
  Escape: 'esc',
  Backspace: 'backspace',
  Tab: 'tab',
  Space: 'spc',
  Delete: 'delete',
  ArrowLeft: 'left',
  ArrowUp: 'up',
  ArrowRight: 'right',
  ArrowDown: 'down',
  Home: 'home',
  End: 'end',
  PageUp: 'pgup',
  PageDown: 'pgdn',
  Insert: 'insert',
  ShiftLeft: 'shift',
  ShiftRight: 'shift_r',
  ControlLeft: 'ctrl',
  ControlRight: 'ctrl_r',
  AltLeft: 'alt',
  AltRight: 'alt_r',
  MetaLeft: 'meta_l',
  MetaRight: 'meta_r',
  CapsLock: 'caps_lock',
  Minus: 'minus',
  Equal: 'equal',
  BracketLeft: 'bracket_left',
  BracketRight: 'bracket_right',
  Semicolon: 'semicolon',
  Quote: 'apostrophe',
  Backquote: 'grave_accent',
  Backslash: 'backslash',
  Comma: 'comma',
  Period: 'dot',
  Slash: 'slash',
  ContextMenu: 'menu',
  NumLock: 'num_lock',
  ScrollLock: 'scroll_lock',
  Pause: 'pause',
  PrintScreen: 'print',
  IntlBackslash: 'less',
};

export function domCodeToQcode(code: string): string | null {
  let m = /^Key([A-Z])$/.exec(code);
  if (m) return m[1]!.toLowerCase();
  m = /^Digit([0-9])$/.exec(code);
  if (m) return m[1]!;
  m = /^F([1-9]|1[0-2])$/.exec(code);
  if (m) return `f${m[1]}`;
  return NAMED_CODES[code] ?? null;
}
