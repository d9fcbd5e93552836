// The dashboard against `proxlab demo` (pvesim in-process): a student starts a VM, sees
// Starting… then Running with an IP, and downloads its RDP file; an admin adds a cluster with
// the simulator's URL and fingerprint and sees its VMs appear. Runs hydrated (the page polls)
// and without JavaScript (the test reloads, as a person would).
import { expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { CLUSTERS_TABLE, ROUTE_ADMIN_CLUSTERS, VM_GRID } from "./ids";
import { demoSignIn, demoUrl, eventually, jsEnabled, ready, trackErrors, test } from "./helpers";

test.describe.configure({ mode: "serial" });

/** What `proxlab demo` printed: account passwords, the simulator's URL and fingerprint. */
function demoLog() {
  const log = readFileSync(process.env.DEMO_LOG ?? "", "utf8");
  const passwords: Record<string, string> = {};
  for (const m of log.matchAll(/^\s+(\w+)\s+([a-z]{4}-[a-z]{4}-[a-z]{4})\s+\(/gm)) passwords[m[1]] = m[2];
  const sim = log.match(/simulated Proxmox cluster at (https:\/\/\S+) /)?.[1] ?? "";
  const fingerprint = log.match(/fingerprint ([0-9A-F:]{95})/)?.[1] ?? "";
  const root = log.match(/root@pam \/ (\S+)/)?.[1] ?? "";
  const realm = log.match(/student1@pve \/ (\S+)/)?.[1] ?? "";
  return { passwords, sim, fingerprint, root, realm };
}

test("a student starts a VM, sees it boot and get an IP, and downloads the RDP file", async ({ page }) => {
  test.setTimeout(90_000);
  const errors = trackErrors(page);
  const { passwords } = demoLog();
  await demoSignIn(page, "student1", passwords.student1);
  const cards = page.locator(`${VM_GRID} .vm-card`);
  await expect(cards).toHaveCount(2);
  const card = cards.filter({ has: page.locator('[data-state="Stopped"]') }).first();
  const id = await card.getAttribute("id");
  const mine = page.locator(`#${id}`);
  // Dashboard loads from here on without a change counter: the poll's replies carry the new
  // dashboard and are shown as they are, so only the start action itself reloads it.
  const fullLoads: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/api/vms" && !/(^|&)since=\d/.test(r.postData() ?? "")) fullLoads.push(r.postData() ?? "");
  });
  await mine.locator('button[data-action="start"]').click();
  await eventually(page, async () => {
    await expect(mine.locator(".badge")).toHaveText(/Starting…|Running/, { timeout: 1000 });
  });
  await eventually(page, async () => {
    await expect(mine.locator(".badge")).toHaveText("Running", { timeout: 1000 });
    await expect(mine.locator(".ip")).toHaveText(/^10\.20\.\d+\.\d+$/, { timeout: 1000 });
  });
  if (jsEnabled) expect(fullLoads.length, fullLoads.join(" | ")).toBeLessThanOrEqual(1);
  const ip = (await mine.locator(".ip").textContent()) ?? "";
  const [download] = await Promise.all([page.waitForEvent("download"), mine.locator("a[data-rdp]").click()]);
  const body = readFileSync((await download.path()) ?? "", "utf8");
  expect(body).toContain(`full address:s:${ip}:3389`);
  expect(body).toContain("username:s:student1");
  // Another student's VM is not even listed, and its RDP file is refused.
  const vmid = await mine.getAttribute("data-vmid");
  expect(errors).toEqual([]);
  const other = await signInOther(page, passwords.student2);
  expect(other).not.toContain(`data-vmid="${vmid}"`);
});

async function signInOther(page: Page, password: string) {
  await page.context().clearCookies();
  await demoSignIn(page, "student2", password);
  const [cluster, vmid] = ((await page.locator(`${VM_GRID} .vm-card`).first().getAttribute("id")) ?? "").split("-").slice(1);
  const res = await page.request.get(`${demoUrl()}/vm/${cluster}/${Number(vmid) + 100000}/rdp`);
  expect(res.status()).toBe(404);
  return page.locator(VM_GRID).innerHTML();
}

test("an admin adds a cluster with the simulator's URL and fingerprint and sees its VMs", async ({ page }) => {
  test.setTimeout(90_000);
  const errors = trackErrors(page);
  const { passwords, sim, fingerprint, root } = demoLog();
  await demoSignIn(page, "admin", passwords.admin);
  await page.goto(`${demoUrl()}${ROUTE_ADMIN_CLUSTERS}`);
  await ready(page);
  await expect(page.locator(CLUSTERS_TABLE)).toContainText("Demo cluster");
  await expect(page.locator(`${CLUSTERS_TABLE} tr[data-cluster="Demo cluster"] .realm-roles`)).toHaveText(
    "admins: root@pam and group admin; teachers: group teachers; students: group students",
  );
  if (jsEnabled) {
    await page.locator("#fp-url").fill(sim);
    await page.getByRole("button", { name: "Fetch fingerprint" }).click();
    await expect(page.getByRole("status")).toContainText(fingerprint);
    await expect(page.locator('input[name="form[fingerprint]"]')).toHaveValue(fingerprint);
  } else {
    await page.locator('input[name="form[fingerprint]"]').fill(fingerprint);
  }
  await page.getByLabel("Name", { exact: true }).fill("Second look");
  await page.locator('textarea[name="form[api_urls]"]').fill(sim);
  await page.getByLabel("User and password").check();
  await page.locator('input[name="form[auth_id]"]').fill("root@pam");
  await page.locator('input[name="form[secret]"]').fill(root);
  await page.getByRole("button", { name: "Add cluster" }).click();
  const row = page.locator(`${CLUSTERS_TABLE} tr[data-cluster="Second look"]`);
  await expect(row).toBeVisible();
  await expect(row.locator(".realm-roles")).toHaveText("admins: only root@pam");
  await eventually(page, async () => {
    await page.goto(`${demoUrl()}${ROUTE_ADMIN_CLUSTERS}`);
    await expect(row.locator(".sync-status")).toHaveText(/\d+ guests/, { timeout: 1000 });
  });
  await page.goto(`${demoUrl()}/?q=&status=`);
  await ready(page);
  await expect(page.getByText(/VMs$/).first()).toBeVisible();
  await page.locator('select[name="cluster"]').selectOption({ label: "Second look" });
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(page.locator(`${VM_GRID} .vm-card`).first()).toBeVisible();
  await expect(page.locator(`${VM_GRID} .vm-card`).first()).toContainText("Second look");
  expect(errors).toEqual([]);
});

test("a Proxmox account signs in with the role of its group, not as an admin", async ({ page }) => {
  const errors = trackErrors(page);
  const { realm } = demoLog();
  expect(realm).not.toBe("");
  // A student in Proxmox, with no VMs in the portal yet.
  await demoSignIn(page, "student1@pve", realm, false);
  await expect(page.locator(`a[href="${ROUTE_ADMIN_CLUSTERS}"]`)).toHaveCount(0);
  const res = await page.request.post(`${demoUrl()}/api/admin/users`, { form: { search: "" } });
  expect(res.status()).toBe(403);
  expect(errors).toEqual([]);
});
