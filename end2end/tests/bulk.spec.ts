// Admins map VMs to users in bulk on the dashboard of `proxlab demo`: a pasted
// "VMID username" line assigns the VM (its card shows the owner), a bad line is refused with
// the reason and changes nothing, and "take back" undoes it.
import { expect } from "@playwright/test";
import { VM_GRID } from "./ids";
import { demoSignIn, demoUrl, jsEnabled, ready, test, trackErrors } from "./helpers";

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
