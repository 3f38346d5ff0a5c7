// apple-gfxd web viewer client: one WebSocket, one canvas per shown display.
// Protocol: see daemon/src/viewers/web/web-server.ts.
'use strict';
(() => {
  const RECT = 1;
  const ENC_RAW = 0;
  const ENC_DEFLATE = 1;
  const ENC_COPY = 2;
  const FLAG_LAST = 1;
  const HEADER = 24;
  const OFF_DISPLAY = 0xffff;

  const $ = (id) => document.getElementById(id);
  const picker = $('display');
  const canvas = $('canvas');
  const ctx = canvas.getContext('2d', { alpha: false });
  const screen = $('screen');
  const stage = $('stage');
  const cursorImg = $('cursor');
  const shotLink = $('screenshot');
  const statusEl = $('status');
  const sizeEl = $('size');
  const rateEl = $('rate');
  const empty = $('empty');
  const fitBox = $('fit');
  const fitLabel = $('fit-label');

  const token = new URLSearchParams(location.search).get('token');
  const withToken = (path) => (token ? `${path}?token=${encodeURIComponent(token)}` : path);
  const canInflate = typeof DecompressionStream === 'function';

  /** port -> display info from the server */
  const displays = new Map();
  let ws = null;
  let port = null; // the display shown
  let wanted = null; // the port the user picked (kept across reconnects and hot-plug)
  let reconnectDelay = 500;
  let chain = Promise.resolve(); // binary messages are drawn in order
  let cursor = { visible: false, x: OFF_DISPLAY, y: OFF_DISPLAY, glyph: null };
  let scale = 1;
  let updates = 0;
  let bytes = 0;
  /** Opt-in: the page's size becomes the shown display's preferred mode (the server's `resize`). */
  let fit = localStorage.getItem('apple-gfxd.fit') === '1';
  let fitTimer = null;
  let lastFit = '';
  fitBox.checked = fit;

  // ---- connection ----

  function connect() {
    setStatus('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${scheme}//${location.host}${withToken('/ws')}`);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      reconnectDelay = 500;
      setStatus('connected');
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') onJson(JSON.parse(ev.data));
      else {
        bytes += ev.data.byteLength;
        const data = ev.data;
        chain = chain.then(() => onRect(data)).catch((e) => console.error('apple-gfxd: bad update', e));
      }
    };
    ws.onclose = () => {
      ws = null;
      port = null;
      setStatus('disconnected');
      setTimeout(connect, reconnectDelay);
      reconnectDelay = Math.min(reconnectDelay * 2, 5000);
    };
  }

  function send(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  function setStatus(s) {
    statusEl.textContent = s;
    statusEl.className = `status ${s}`;
  }

  // ---- server messages ----

  function onJson(msg) {
    switch (msg.type) {
      case 'hello':
        fitLabel.hidden = !msg.resize;
        lastFit = '';
        displays.clear();
        for (const d of msg.displays) displays.set(d.port, d);
        refreshPicker();
        choose();
        break;
      case 'attached':
        displays.set(msg.display.port, msg.display);
        refreshPicker();
        if (port === null || msg.display.port === wanted) choose();
        break;
      case 'detached':
        displays.delete(msg.port);
        refreshPicker();
        if (msg.port === port) {
          port = null;
          choose();
        }
        break;
      case 'mode': {
        const d = displays.get(msg.port);
        if (d) {
          d.width = msg.width;
          d.height = msg.height;
          refreshPicker();
        }
        break;
      }
      case 'cursor':
        if (msg.port !== port) break;
        cursor.visible = msg.visible;
        cursor.x = msg.x;
        cursor.y = msg.y;
        if (msg.glyph !== undefined) {
          cursor.glyph = msg.glyph;
          if (msg.glyph) cursorImg.src = msg.glyph.png;
        }
        placeCursor();
        break;
      case 'resized':
        if (!msg.ok) {
          console.warn('apple-gfxd: resize refused:', msg.message);
          lastFit = ''; // try again on the next change
        }
        break;
      case 'error':
        console.warn('apple-gfxd:', msg.message);
        break;
    }
  }

  // ---- fit the guest to the window (opt-in) ----

  /** The stage's size in device pixels: what the guest would need to fill it 1:1. */
  function stageSize() {
    const r = window.devicePixelRatio || 1;
    return { width: Math.max(Math.floor((stage.clientWidth - 16) * r), 1), height: Math.max(Math.floor((stage.clientHeight - 16) * r), 1) };
  }

  /** Asks for the stage's size once the window has stopped changing for a moment. */
  function scheduleFit() {
    if (!fit || port === null || fitLabel.hidden) return;
    clearTimeout(fitTimer);
    fitTimer = setTimeout(() => {
      const { width, height } = stageSize();
      const key = `${port}:${width}x${height}`;
      if (key === lastFit) return;
      lastFit = key;
      send({ type: 'resize', width, height });
    }, 300);
  }

  function label(d) {
    const size = d.width ? ` (${d.width}\u00d7${d.height})` : '';
    return `${d.port}: ${d.name}${size}`;
  }

  function refreshPicker() {
    const keep = port;
    picker.textContent = '';
    if (displays.size === 0) {
      picker.append(new Option('no display', ''));
      picker.disabled = true;
    } else {
      for (const d of [...displays.values()].sort((a, b) => a.port - b.port)) picker.append(new Option(label(d), String(d.port)));
      picker.disabled = false;
      if (keep !== null) picker.value = String(keep);
    }
  }

  /** Shows the display the user wanted, else the first one. */
  function choose() {
    const fromHash = /^#display=(\d+)$/.exec(location.hash);
    if (wanted === null && fromHash) wanted = Number(fromHash[1]);
    const next = displays.has(wanted) ? wanted : displays.size ? [...displays.keys()].reduce((a, b) => Math.min(a, b)) : null;
    if (next === null) return show(null);
    if (next !== port) show(next);
  }

  function show(p) {
    port = p;
    cursor = { visible: false, x: OFF_DISPLAY, y: OFF_DISPLAY, glyph: null };
    placeCursor();
    if (p === null) {
      screen.hidden = true;
      empty.hidden = false;
      shotLink.classList.add('disabled');
      sizeEl.textContent = '';
      return;
    }
    picker.value = String(p);
    shotLink.href = withToken(`/screenshot/${p}.png`);
    shotLink.classList.remove('disabled');
    shotLink.removeAttribute('aria-disabled');
    send({ type: 'subscribe', port: p, encodings: canInflate ? ['copy', 'deflate', 'raw'] : ['copy', 'raw'] });
    scheduleFit();
  }

  async function onRect(buf) {
    const v = new DataView(buf);
    if (buf.byteLength < HEADER || v.getUint8(0) !== RECT) return;
    const enc = v.getUint8(1);
    const last = (v.getUint8(2) & FLAG_LAST) !== 0;
    const p = v.getUint16(4, true);
    const update = v.getUint32(8, true);
    const fw = v.getUint16(12, true);
    const fh = v.getUint16(14, true);
    const x = v.getUint16(16, true);
    const y = v.getUint16(18, true);
    const w = v.getUint16(20, true);
    const h = v.getUint16(22, true);
    try {
      if (p !== port) return; // an update for the display we just left
      if (enc === ENC_COPY) {
        // A move (guest blit, scroll): the canvas copies its own pixels. It
        // comes first in an update, before any rect that needs a decompress.
        if (buf.byteLength < HEADER + 4 || canvas.width !== fw || canvas.height !== fh) return;
        ctx.drawImage(canvas, v.getUint16(HEADER, true), v.getUint16(HEADER + 2, true), w, h, x, y, w, h);
        return;
      }
      let pixels = new Uint8Array(buf, HEADER);
      if (enc === ENC_DEFLATE) {
        const stream = new Blob([pixels]).stream().pipeThrough(new DecompressionStream('deflate'));
        pixels = new Uint8Array(await new Response(stream).arrayBuffer());
      } else if (enc !== ENC_RAW) return;
      if (pixels.length !== w * h * 4) throw new Error(`rect ${w}x${h}: ${pixels.length} bytes`);
      if (screen.hidden) {
        screen.hidden = false;
        empty.hidden = true;
        placeCursor();
      }
      if (canvas.width !== fw || canvas.height !== fh) {
        canvas.width = fw;
        canvas.height = fh;
        sizeEl.textContent = `${fw}\u00d7${fh}`;
        layout();
      }
      ctx.putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.length), w, h), x, y);
      if (last) {
        // what is on the canvas, for tests and for the curious
        canvas.dataset.port = String(p);
        canvas.dataset.update = String(update);
      }
    } finally {
      if (last) {
        updates++;
        send({ type: 'ack', update });
      }
    }
  }

  // ---- layout and cursor ----

  function layout() {
    if (!canvas.width) return;
    const availW = Math.max(stage.clientWidth - 16, 1);
    const availH = Math.max(stage.clientHeight - 16, 1);
    scale = Math.min(availW / canvas.width, availH / canvas.height);
    canvas.style.width = `${Math.round(canvas.width * scale)}px`;
    canvas.style.height = `${Math.round(canvas.height * scale)}px`;
    canvas.style.imageRendering = scale >= 2 ? 'pixelated' : 'auto';
    placeCursor();
  }

  function placeCursor() {
    const g = cursor.glyph;
    if (!g || !cursor.visible || cursor.x === OFF_DISPLAY || cursor.y === OFF_DISPLAY || screen.hidden) {
      cursorImg.hidden = true;
      return;
    }
    cursorImg.hidden = false;
    cursorImg.style.width = `${g.width * scale}px`;
    cursorImg.style.height = `${g.height * scale}px`;
    cursorImg.style.transform = `translate(${(cursor.x - g.hotX) * scale}px, ${(cursor.y - g.hotY) * scale}px)`;
  }

  new ResizeObserver(layout).observe(stage);

  // ---- input ----

  /** DOM MouseEvent.buttons (1 left, 2 right, 4 middle) to RFB (1 left, 2 middle, 4 right). */
  const rfbButtons = (b) => (b & 1) | ((b & 4) >> 1) | ((b & 2) << 1);

  function position(e) {
    const r = canvas.getBoundingClientRect();
    const x = Math.floor(((e.clientX - r.left) * canvas.width) / r.width);
    const y = Math.floor(((e.clientY - r.top) * canvas.height) / r.height);
    return { x: Math.min(Math.max(x, 0), canvas.width - 1), y: Math.min(Math.max(y, 0), canvas.height - 1) };
  }

  let lastButtons = 0;
  let pendingMove = null;
  function pointer(e, wheel) {
    if (port === null || !canvas.width) return;
    const msg = { type: 'pointer', ...position(e), buttons: rfbButtons(e.buttons) };
    if (wheel) msg.wheel = wheel;
    if (msg.buttons === lastButtons && !wheel) {
      // plain moves: at most one per animation frame
      if (!pendingMove)
        requestAnimationFrame(() => {
          if (pendingMove) send(pendingMove);
          pendingMove = null;
        });
      pendingMove = msg;
      return;
    }
    pendingMove = null;
    lastButtons = msg.buttons;
    send(msg);
  }

  canvas.addEventListener('pointermove', (e) => pointer(e));
  canvas.addEventListener('pointerdown', (e) => {
    canvas.focus();
    canvas.setPointerCapture(e.pointerId);
    e.preventDefault();
    pointer(e);
  });
  canvas.addEventListener('pointerup', (e) => pointer(e));
  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      if (e.deltaY) pointer(e, Math.sign(e.deltaY));
    },
    { passive: false },
  );

  const held = new Set();
  function key(e, down) {
    if (!e.code) return;
    e.preventDefault();
    if (down) held.add(e.code);
    else if (!held.delete(e.code)) return;
    send({ type: 'key', code: e.code, down });
  }
  canvas.addEventListener('keydown', (e) => key(e, true));
  canvas.addEventListener('keyup', (e) => key(e, false));
  canvas.addEventListener('focus', () => document.body.classList.add('focused'));
  canvas.addEventListener('blur', () => {
    document.body.classList.remove('focused');
    for (const code of held) send({ type: 'key', code, down: false });
    held.clear();
  });

  fitBox.addEventListener('change', () => {
    fit = fitBox.checked;
    localStorage.setItem('apple-gfxd.fit', fit ? '1' : '0');
    lastFit = '';
    scheduleFit();
  });
  window.addEventListener('resize', scheduleFit);

  picker.addEventListener('change', () => {
    wanted = Number(picker.value);
    history.replaceState(null, '', `${location.search}#display=${wanted}`);
    show(wanted);
    canvas.focus();
  });

  setInterval(() => {
    rateEl.textContent = port === null ? '' : `${updates} upd/s, ${Math.round(bytes / 1024)} KiB/s`;
    updates = 0;
    bytes = 0;
  }, 1000);

  connect();
})();
