// Admins map VMs to users in bulk on the dashboard of `proxlab demo`: a pasted
// "VMID username" line assigns the VM (its card shows the owner), a bad line is refused with
// the reason and changes nothing, and "take back" undoes it.
import { expect } from "@playwright/test";
import { VM_GRID } from "./ids";
import { demoSignIn, demoUrl, eventually, jsEnabled, ready, test, trackErrors } from "./helpers";

const shots = process.env.E2E_SHOTS;

test("an admin assigns and takes back VMs in bulk", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}/?status=stopped`);
  await ready(page);
  const card = page.locator(`${VM_GRID} .vm-card`).first();
  const vmid = await card.getAttribute("data-vmid");
  const owners = card.locator(".owners .tags");
  await expect(owners).not.toContainText("student3");

  const bulk = page.locator("#bulk-assign");
  const lines = bulk.getByLabel(/One "VMID username" per line/);
  // Without JavaScript each submit reloads the page, with the form folded again.
  const open = async () => {
    if ((await bulk.getAttribute("open")) === null) await bulk.getByText("Assign or take back in bulk…").click();
  };
  await open();
  await lines.fill(`${vmid} student3\n${vmid} nosuchuser`);
  await bulk.getByRole("button", { name: "Apply" }).click();
  await expect(page.locator('[role="alert"]')).toContainText("No such user: nosuchuser. Nothing was changed.");
  await expect(owners).not.toContainText("student3");

  await open();
  await lines.fill(`${vmid} student3`);
  await bulk.getByRole("button", { name: "Apply" }).click();
  if (jsEnabled) await expect(page.locator("#bulk-assign-done")).toHaveText("Assigned: 1.");
  await expect(owners).toContainText("student3");
  if (shots) await page.screenshot({ path: `${shots}/bulk-desktop.png` });

  await open();
  await lines.fill(`${vmid} student3`);
  await bulk.getByLabel("Take these back instead").check();
  await bulk.getByRole("button", { name: "Apply" }).click();
  if (jsEnabled) await expect(page.locator("#bulk-assign-done")).toHaveText("Taken back: 1.");
  await expect(owners).not.toContainText("student3");
  expect(errors).toEqual([]);
});

test("the admin's Classes page offers import, and suggestions when there are any", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.goto(`${demoUrl()}/classes`);
  await ready(page);
  await expect(page.locator("#import-class")).toBeVisible();
  // Every suggestion has its guessed name filled in and an Import button.
  for (const s of await page.locator("#adoption li.adoption").all()) {
    await expect(s.getByLabel("Name")).not.toHaveValue("");
    await expect(s.getByRole("button", { name: "Import" })).toBeVisible();
  }
  expect(errors).toEqual([]);
});

test("the admin assigns a VM named after a user from the suggestions", async ({ page }) => {
  test.setTimeout(120_000);
  const errors = trackErrors(page);
  const answer = (endpoint: string) =>
    page.waitForResponse((r) => r.url().includes(endpoint) && r.request().method() === "POST");
  await demoSignIn(page, "admin");
  // A VM of the admin's whose name names student3, made with the builder and not started.
  await page.goto(`${demoUrl()}/vms/new`);
  await ready(page);
  await eventually(page, async () => {
    await expect(page.locator("#build-form")).toBeVisible({ timeout: 2_000 });
  }, 60_000);
  const name = `ws-student3-${Date.now() % 100000}`;
  await page.locator("#build-name").fill(name);
  await page.locator("#build-storage").selectOption("local-lvm");
  await page.locator("#build-start").uncheck();
  await Promise.all([answer("/api/vms/build"), page.locator("#build-button").click()]);
  await page.waitForURL(/\/\?q=\d+$/, { timeout: 60_000 });
  await ready(page);
  const vmid = page.url().split("=").pop()!;

  // Taken back from the admin, nobody has it: it is suggested for student3.
  const bulk = page.locator("#bulk-assign");
  if ((await bulk.getAttribute("open")) === null) await bulk.getByText("Assign or take back in bulk…").click();
  await bulk.getByLabel(/One "VMID username" per line/).fill(`${vmid} admin`);
  await bulk.getByLabel("Take these back instead").check();
  await Promise.all([answer("/api/admin/vms/bulk"), bulk.getByRole("button", { name: "Apply" }).click()]);
  const suggested = page.locator("#suggested-assignments");
  await expect(async () => {
    await page.goto(`${demoUrl()}/?q=${vmid}`);
    await expect(suggested).toContainText(`${vmid} ${name} → student3 (by its name)`, { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await suggested.locator("summary").click();
  if (shots) await page.screenshot({ path: `${shots}/suggested-desktop.png` });
  await Promise.all([answer("/api/admin/vms/bulk"), suggested.getByRole("button", { name: /^Assign (it|these)/ }).first().click()]);
  const card = page.locator(`.vm-card[data-vmid="${vmid}"]`);
  await expect(async () => {
    await page.goto(`${demoUrl()}/?q=${vmid}`);
    await expect(card.locator(".owners .tags")).toContainText("student3", { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  expect(errors).toEqual([]);
});
