// Snapshots against `proxlab demo`: a teacher allows one snapshot per student on a new
// class's page; a student joins, starts the VM, opens "Snapshots" from the card, takes one
// with memory and sees it listed as where the VM is ("You are here"), is told the limit is
// reached, rolls back to it (the VM stays running: the memory was saved), deletes it; the
// teacher reaches the same page from the class roster. Hydrated only (the wizard's review).
import { expect } from "@playwright/test";
import { VM_GRID } from "./ids";
import { jsEnabled, launchClass, ready, registerThroughInvite, trackErrors, demoSignIn, test, shotBoth } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the wizard's review step needs JavaScript");

let classUrl = "";
let invite = "";
let snapshotsUrl = "";
const shots = process.env.E2E_SHOTS;

test("a teacher allows students one snapshot each", async ({ page }) => {
  test.setTimeout(150_000);
  const errors = trackErrors(page);
  await demoSignIn(page, "teacher");
  await launchClass(page, "Snap Lab", 1);
  classUrl = page.url();
  await ready(page);
  await expect(page.locator("#class-progress")).toHaveAttribute("data-active", "false", { timeout: 90_000 });
  invite = (await page.locator("#invite-link").inputValue()).trim();
  const setting = page.locator("#class-snapshots");
  await expect(setting).toContainText("Students may not take snapshots.");
  await setting.getByLabel("Snapshots per student VM").fill("1");
  await setting.getByRole("button", { name: "Save" }).click();
  await expect(setting).toContainText("Each student may keep up to 1 snapshots of their VM.");
  if (shots) await setting.screenshot({ path: `${shots}/class-snapshots.png` });
  expect(errors).toEqual([]);
});

test("a student takes a snapshot with memory, rolls back to it and deletes it", async ({ page }) => {
  test.setTimeout(150_000);
  const errors = trackErrors(page);
  await registerThroughInvite(page, invite, "snapstudent", "Snap Student");
  await page.getByRole("button", { name: "Join and get my VM" }).click();
  const card = page.locator(`${VM_GRID} .vm-card`).filter({ hasText: "snap-lab-student-1" });
  await expect(card).toBeVisible({ timeout: 20_000 });
  await card.locator('button[data-action="start"]').click();
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 30_000 });

  if (shots) await card.screenshot({ path: `${shots}/card-snapshots.png` });
  await card.getByRole("link", { name: "Snapshots" }).click();
  await page.waitForURL(/\/vms\/\d+\/\d+\/snapshots$/);
  snapshotsUrl = page.url();
  await ready(page);
  await expect(page.locator("h1")).toContainText("Snapshots of snap-lab-student-1");
  await expect(page.locator("#snapshots-empty")).toBeVisible();
  // A name Proxmox would refuse is refused with the reason, and nothing is queued.
  const take = page.locator("#snapshot-take");
  await take.getByLabel("Name").evaluate((el) => el.removeAttribute("pattern"));
  await take.getByLabel("Name").fill("1-bad name");
  await take.getByRole("button", { name: "Take snapshot" }).click();
  await expect(page.locator('[role="alert"]')).toContainText("starting with a letter");
  await expect(page.locator("#snapshot-jobs")).toHaveCount(0);

  await take.getByLabel("Name").fill("before-lab");
  await take.getByLabel("Description (optional)").fill("Clean install");
  await take.getByLabel(/Include memory/).check();
  await take.getByRole("button", { name: "Take snapshot" }).click();
  const item = page.locator('#snapshot-list li[data-name="before-lab"]');
  await expect(item).toBeVisible({ timeout: 30_000 });
  await expect(item).toHaveAttribute("data-current", "true");
  await expect(item).toContainText("with memory");
  await expect(item).toContainText("by snapstudent");
  await expect(page.locator("#snapshot-jobs li").first()).toHaveAttribute("data-state", "done");
  await expect(page.locator("#snapshot-blocked")).toContainText("You have 1 of 1 snapshots");
  await expect(take.getByRole("button", { name: "Take snapshot" })).toBeDisabled();
  await expect(take.getByLabel("Name")).toHaveValue("");
  await shotBoth(page, "snapshots");

  await item.getByText("Roll back…").click();
  await item.getByRole("button", { name: "Roll back to before-lab" }).click();
  await expect(page.locator("#snapshot-jobs li").first()).toContainText("Roll back before-lab", { timeout: 10_000 });
  await expect(page.locator("#snapshot-jobs li").first()).toHaveAttribute("data-state", "done", { timeout: 30_000 });

  await item.getByText("Delete…").click();
  await item.getByRole("button", { name: "Delete before-lab" }).click();
  await expect(page.locator("#snapshots-empty")).toBeVisible({ timeout: 30_000 });
  await expect(take.getByRole("button", { name: "Take snapshot" })).toBeEnabled();

  // Rolled back to a snapshot with memory: the VM is running still.
  await page.getByRole("link", { name: "Back to your VMs" }).click();
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 30_000 });
  expect(errors).toEqual([]);
});

test("the teacher opens a student's snapshots from the class roster; others cannot", async ({ page, browser }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "teacher");
  await page.goto(classUrl);
  await ready(page);
  await page.locator("#class-roster a[data-snapshots]").first().click();
  await ready(page);
  await expect(page.locator("h1")).toContainText("Snapshots of snap-lab-");
  await expect(page.locator("#snapshot-take")).toBeVisible();

  // Another student gets "not found" for the student's VM page, with its status.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await demoSignIn(p2, "student1");
  const res = await p2.goto(snapshotsUrl);
  expect(res?.status()).toBe(404);
  await expect(p2.locator("#snapshots-refused")).toBeVisible();
  await other.close();
  expect(errors).toEqual([]);
});
