// The terminal tab against `proxlab demo`: a student starts a VM, opens its terminal from the
// dashboard in a new tab, sees the simulated shell's prompt, types a command and sees the
// shell's answer (pvesim's termproxy echoes typed characters and runs `echo`, `stty size`,
// …), and the shell learns the terminal's size. Another student's terminal is refused.
// Needs JavaScript (xterm.js).
import { expect, Page } from "@playwright/test";
import { VM_GRID } from "./ids";
import { jsEnabled, openThenSignOut, trackErrors, demoSignIn, demoUrl, test } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the terminal is xterm.js: it needs JavaScript");



/** The terminal's rows as text (xterm.js's DOM renderer draws one <div> per row). */
const rows = (tab: Page) => tab.locator("#terminal-screen .xterm-rows > div");
/** Rows whose whole text is `text` (output lines, not the command line that typed it). */
const line = (tab: Page, text: string) => rows(tab).filter({ hasText: new RegExp(`^\\s*${text}\\s*$`) });

test("a student opens the terminal of a running VM and the shell answers what they type", async ({ page, context }) => {
  test.setTimeout(90_000);
  await demoSignIn(page, "student2");
  const card = page.locator(`${VM_GRID} .vm-card`).first();
  if ((await card.locator(".badge").textContent()) === "Stopped") {
    await card.locator('button[data-action="start"]').click();
  }
  // "Running" (with its IP), not "Starting…": a start still in flight shows "Starting…" too,
  // and the portal refuses a console for a VM Proxmox does not report running yet.
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 40_000 });
  const name = (await card.locator("h3").textContent()) ?? "";
  const clicked = Date.now();
  const [tab] = await Promise.all([context.waitForEvent("page"), card.locator("a[data-terminal]").click()]);
  const errors = trackErrors(tab);
  await expect(tab.locator("#terminal-state")).toHaveText("Connected", { timeout: 15_000 });
  // pvesim's shell greets with `root@<VM name>:~# `.
  await expect(rows(tab).filter({ hasText: `root@${name}:~#` }).first()).toBeVisible();
  console.log(`click to prompt: ${Date.now() - clicked} ms`);
  await tab.locator("#terminal-screen .xterm").click();
  await tab.keyboard.type("echo typed-in-the-browser");
  await tab.keyboard.press("Enter");
  // The shell's output line: only there if the keys reached the VM and the answer came back.
  await expect(line(tab, "typed-in-the-browser")).toHaveCount(1);
  // The page fitted the terminal to its box and told the shell (pvesim starts at 80×24).
  const screen = tab.locator("#terminal-screen");
  const cols = Number(await screen.getAttribute("data-cols"));
  const height = Number(await screen.getAttribute("data-rows"));
  expect(cols).toBeGreaterThan(80);
  await tab.keyboard.type("stty size");
  await tab.keyboard.press("Enter");
  await expect(line(tab, `${height} ${cols}`)).toHaveCount(1);
  await expect(tab.locator("#terminal-help")).toBeHidden();
  expect(errors).toEqual([]);
});

test("the console page offers the terminal", async ({ page }) => {
  await demoSignIn(page, "student2");
  const id = (await page.locator(`${VM_GRID} .vm-card`).first().getAttribute("id")) ?? "";
  const [, cluster, vmid] = id.split("-");
  await page.goto(`${demoUrl()}/console/${cluster}/${vmid}`);
  await expect(page.locator("a[data-terminal]")).toHaveAttribute("href", `/terminal/${cluster}/${vmid}`);
});

test("another student's terminal is refused, before and at the WebSocket", async ({ page }) => {
  await demoSignIn(page, "student2");
  // student3's VM is the assignment after student2's in the demo; student2 cannot open it.
  const own = await page.locator(`${VM_GRID} .vm-card`).first().getAttribute("id");
  const [, cluster, vmid] = (own ?? "").split("-");
  const other = Number(vmid) + 1;
  const response = await page.goto(`${demoUrl()}/terminal/${cluster}/${other}`);
  expect(response?.status()).toBe(404);
  await expect(page.locator("#terminal-refused")).toContainText("do not have access");
  const status = await page.evaluate(async (path) => {
    return await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://${location.host}${path}`);
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
    });
  }, `/ws/terminal/${cluster}/${other}`);
  expect(status).toBe("refused");
});

test("signing out ends an open terminal within seconds", async ({ page, context }) => {
  test.setTimeout(60_000);
  const { tab, signedOutAt } = await openThenSignOut(page, context, "student2", "terminal");
  // The server closes the socket with 4403 and the page says why (not "connection lost").
  await expect(tab.locator("#terminal-state")).toContainText("Access ended", { timeout: 5_000 });
  await expect(rows(tab).filter({ hasText: "[access ended]" })).toHaveCount(1);
  console.log(`terminal: sign-out to closed ${Date.now() - signedOutAt} ms`);
});
