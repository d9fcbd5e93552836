// The policy warning on the console and terminal tabs ("Your VM shuts down in 10 minutes:
// it has been idle", with "I'm still here"). These pages are not hydrated (see app/src/lib.rs
// `hydrates`), so this asks the portal's own endpoints: /api/vms/notice every 20 s and
// /api/vms/still-here on the button. The server checks the session and the VM each time.
const box = document.getElementById("policy-notice");
if (box) {
  const body = new URLSearchParams({ cluster_id: box.dataset.cluster, vmid: box.dataset.vmid });
  const post = (path) =>
    fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body,
      credentials: "same-origin",
    });
  const text = box.querySelector("span");
  const button = box.querySelector("button");
  const VERB = { hibernate: "hibernates" };
  const WHY = {
    idle: "it has been idle",
    hours: "the class's access hours are over",
    quota: "you have used your hours for this class",
    schedule: "the class's schedule stops it",
  };
  let notice = null;
  let skew = 0; // server clock minus ours, so the minutes match the server's
  function render() {
    if (!notice) {
      box.hidden = true;
      return;
    }
    const now = Date.now() / 1000 + skew;
    const minutes = Math.ceil(Math.max(0, notice.due_at - now) / 60);
    const when = minutes === 0 ? "now" : minutes === 1 ? "in 1 minute" : `in ${minutes} minutes`;
    text.textContent = `Your VM ${VERB[notice.action] ?? "shuts down"} ${when}: ${WHY[notice.reason] ?? notice.reason}.`;
    box.dataset.reason = notice.reason;
    button.hidden = notice.reason !== "idle";
    box.hidden = false;
  }
  async function refresh() {
    try {
      const r = await post("/api/vms/notice");
      if (!r.ok) return;
      const [n, serverNow] = await r.json();
      skew = serverNow - Date.now() / 1000;
      notice = n;
      render();
    } catch {
      // The next poll tries again; the console itself says when the portal is gone.
    }
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      const r = await post("/api/vms/still-here");
      if (r.ok) notice = null;
      render();
    } finally {
      button.disabled = false;
    }
  });
  refresh();
  setInterval(refresh, 20_000);
  setInterval(render, 10_000);
}
