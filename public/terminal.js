// The terminal tab's glue around xterm.js (npm @xterm/xterm 6.0.0, MIT, served from
// /vendor/xterm with its licence). The package ships two builds: lib/xterm.js (UMD: a
// plain <script> would set a global `Terminal`) and lib/xterm.mjs (an ES module with no
// imports of its own); this file uses the module, like console.js uses noVNC's.
//
// The WebSocket is the portal's own (/ws/terminal/…): keystrokes go out as binary frames,
// a size as the text frame `resize:COLS:ROWS`, and the terminal's output comes back as
// binary frames. The server logs in to Proxmox's termproxy itself and sends its
// keep-alives, so no ticket and no timer lives here.
import { Terminal } from "/vendor/xterm/xterm.mjs";

const screen = document.getElementById("terminal-screen");
const state = document.getElementById("terminal-state");
const help = document.getElementById("terminal-help");
const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${screen.dataset.ws}`;
const encoder = new TextEncoder();
// The server takes messages up to 64 KiB; 4096 code points are at most 16 KiB of UTF-8.
const PIECE = 4096;
// A terminal that ends this soon after connecting most likely has nothing behind it (a VM
// without a serial port): show the help then.
const QUICK_CLOSE_MS = 5000;
// The close code the portal sends when the session ended (signed out, expired, password
// changed, account disabled) or the VM was taken away.
const REVOKED = 4403;

const term = new Terminal({ fontFamily: "ui-monospace, monospace", fontSize: 15, cursorBlink: true, scrollback: 5000 });
term.open(screen);
let socket = null;

function show(text, kind) {
  state.textContent = text;
  state.dataset.state = kind;
}

// Fits the terminal to its box. xterm.js's fit addon does this from private renderer
// figures; the rendered .xterm-screen (cols × rows cells) gives the cell size just as well.
function fit() {
  const cells = screen.querySelector(".xterm-screen");
  if (!cells || !cells.clientWidth || !cells.clientHeight) return;
  const cellWidth = cells.clientWidth / term.cols;
  const cellHeight = cells.clientHeight / term.rows;
  const scrollbar = 16;
  const cols = Math.max(20, Math.floor((screen.clientWidth - scrollbar) / cellWidth));
  const rows = Math.max(5, Math.floor(screen.clientHeight / cellHeight));
  if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
  screen.dataset.cols = term.cols;
  screen.dataset.rows = term.rows;
}

function sendSize() {
  if (socket?.readyState === WebSocket.OPEN) socket.send(`resize:${term.cols}:${term.rows}`);
}

function sendKeys(bytes) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(bytes);
}

term.onResize(() => {
  screen.dataset.cols = term.cols;
  screen.dataset.rows = term.rows;
  sendSize();
});
term.onData((text) => {
  const chars = Array.from(text); // code points, so a piece never splits one
  for (let i = 0; i < chars.length; i += PIECE) sendKeys(encoder.encode(chars.slice(i, i + PIECE).join("")));
});
// Some mouse reports are bytes, not text: one byte per character code.
term.onBinary((text) => sendKeys(Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff)));

function connect() {
  show("Connecting…", "connecting");
  help.hidden = true;
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  socket = ws;
  let openedAt = 0;
  ws.onopen = () => {
    openedAt = Date.now();
    show("Connected", "connected");
    sendSize();
    term.focus();
  };
  ws.onmessage = (e) => term.write(new Uint8Array(e.data));
  ws.onclose = (e) => {
    if (socket !== ws) return; // replaced by Reconnect
    socket = null;
    if (e.code === REVOKED) {
      show("Access ended: you were signed out or may no longer use this VM", "disconnected");
      term.write("\r\n[access ended]\r\n");
      help.hidden = true;
    } else if (!openedAt) {
      show("Could not connect: reload the page to see why, or press Reconnect", "refused");
      help.hidden = false;
    } else {
      show("Disconnected: press Reconnect", "disconnected");
      help.hidden = Date.now() - openedAt > QUICK_CLOSE_MS;
    }
  };
}

document.getElementById("terminal-reconnect").addEventListener("click", () => {
  const old = socket;
  socket = null;
  old?.close();
  term.reset();
  connect();
});
document.getElementById("terminal-fullscreen").addEventListener("click", () => screen.requestFullscreen?.());
new ResizeObserver(() => fit()).observe(screen);

fit();
connect();
