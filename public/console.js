// The console tab's glue around noVNC (npm @novnc/novnc, MPL-2.0, served from
// /vendor/novnc with its licence, its modules joined into one file by scripts/setup.sh). The WebSocket is the portal's own: the server checks the
// session and the VM, and answers the node's VNC authentication itself, so no password is
// ever asked here or sent to the browser.
import RFB from "/vendor/novnc/rfb.bundle.js";

const screen = document.getElementById("console-screen");
const state = document.getElementById("console-state");
const scale = document.getElementById("console-scale");
const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${screen.dataset.ws}`;
// The close code the portal sends when the session ended (signed out, expired, password
// changed, account disabled) or the VM was taken away: no point in reconnecting then.
const REVOKED = 4403;
const REVOKED_TEXT = "Access ended: you were signed out or may no longer use this VM";
let rfb = null;

function show(text, kind) {
  state.textContent = text;
  state.dataset.state = kind;
}

function connect() {
  show("Connecting…", "connecting");
  // noVNC takes an open WebSocket too; ours lets the page read the close code, which
  // noVNC's "disconnect" event does not carry.
  const ws = new WebSocket(url, ["binary"]);
  let revoked = false;
  ws.addEventListener("close", (e) => {
    revoked = e.code === REVOKED;
    if (revoked) show(REVOKED_TEXT, "disconnected");
  });
  rfb = new RFB(screen, ws);
  rfb.scaleViewport = scale.checked;
  rfb.focusOnClick = true;
  rfb.addEventListener("connect", () => {
    show("Connected", "connected");
    rfb.focus();
  });
  rfb.addEventListener("disconnect", (e) => {
    if (revoked) show(REVOKED_TEXT, "disconnected");
    else show(e.detail.clean ? "Disconnected" : "Connection lost: reload or press Reconnect", "disconnected");
    rfb = null;
  });
  rfb.addEventListener("securityfailure", (e) => show(`Refused: ${e.detail.reason ?? "no access"}`, "refused"));
}

document.getElementById("console-reconnect").addEventListener("click", () => {
  if (rfb) rfb.disconnect();
  connect();
});
document.getElementById("console-cad").addEventListener("click", () => rfb?.sendCtrlAltDel());
document.getElementById("console-fullscreen").addEventListener("click", () => screen.requestFullscreen?.());
scale.addEventListener("change", () => {
  if (rfb) rfb.scaleViewport = scale.checked;
});
// Clipboard paste: type the text as key presses (X11 keysyms: Latin-1 as is, the rest
// as 0x01000000 + code point, Enter as Return).
document.getElementById("console-paste").addEventListener("submit", (e) => {
  e.preventDefault();
  const field = document.getElementById("console-paste-text");
  for (const ch of field.value) {
    const code = ch.codePointAt(0);
    const keysym = ch === "\n" ? 0xff0d : code < 0x100 ? code : 0x01000000 + code;
    rfb?.sendKey(keysym, null);
  }
  field.value = "";
  rfb?.focus();
});

connect();
