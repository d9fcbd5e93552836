// Our test command (test.sh) starts the server and the tests together:
// wait until /health answers, then find the one-time setup link in the server's output.
import { readFileSync } from "node:fs";

export default async function globalSetup() {
  await waitForHealth(process.env.BASE_URL ?? "http://127.0.0.1:3000");
  if (process.env.DEMO_URL) await waitForHealth(process.env.DEMO_URL);
  const log = process.env.PROXLAB_E2E_LOG;
  if (log) {
    const match = readFileSync(log, "utf8").match(/https?:\/\/\S+\/setup\?token=[A-Za-z0-9_-]+/);
    if (match) process.env.PROXLAB_SETUP_LINK = match[0];
  }
}

async function waitForHealth(base: string) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const res = await fetch(`${base}/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${base}/health did not answer within 120 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
