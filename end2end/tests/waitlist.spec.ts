// The waiting list on `proxlab demo`: a class of one VM; the first student gets it, the
// second finds the class full and joins the waiting list, and their dashboard says where
// they stand; the teacher sees them on the class page and adds a VM for them in one click;
// the VM appears on the waiting student's open dashboard. Hydrated only (the wizard).
import { expect } from "@playwright/test";
import { VM_GRID } from "./ids";
import { demoSignIn, jsEnabled, launchClass, ready, registerThroughInvite, test, trackErrors, shotBoth } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the wizard's review step needs JavaScript");

let invite = "";
let classUrl = "";
const shots = process.env.E2E_SHOTS;

test("a class of one VM fills up", async ({ page }) => {
  test.setTimeout(150_000);
  await demoSignIn(page, "teacher");
  await launchClass(page, "Wait Lab", 1);
  classUrl = page.url();
  await ready(page);
  await expect(page.locator("#class-progress")).toHaveAttribute("data-active", "false", { timeout: 90_000 });
  invite = (await page.locator("#invite-link").inputValue()).trim();
  await page.context().clearCookies();
  await registerThroughInvite(page, invite, "firstinline", "First In Line");
  await page.getByRole("button", { name: "Join and get my VM" }).click();
  await expect(page.locator(`${VM_GRID} .vm-card`).filter({ hasText: "wait-lab-student-1" })).toBeVisible({ timeout: 20_000 });
});

test("the next student waits and gets the VM the teacher adds", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const errors = trackErrors(page);
  await registerThroughInvite(page, invite, "waitingstudent", "Waiting Student");
  await expect(page.getByText("This class is full: every VM has a student.")).toBeVisible();
  await page.getByRole("button", { name: "Join the waiting list" }).click();
  await page.waitForURL((u) => u.pathname === "/");
  await ready(page);
  const notice = page.locator("section.waiting");
  await expect(notice).toContainText("You are number 1 on the waiting list of Wait Lab");
  await shotBoth(page, "waiting");

  // The teacher, in another browser, adds a VM for the waiting student.
  const t = await browser.newContext();
  const tp = await t.newPage();
  await demoSignIn(tp, "teacher");
  await tp.goto(classUrl);
  await ready(tp);
  const waiting = tp.locator("#class-waiting");
  await expect(waiting).toContainText("Waiting Student (waitingstudent)");
  if (shots) await waiting.screenshot({ path: `${shots}/class-waiting.png` });
  await waiting.getByRole("button", { name: "Add 1 VM(s) for them" }).click();
  await expect(tp.locator("#class-progress")).toHaveAttribute("data-active", "false", { timeout: 120_000 });
  await expect(tp.locator("#class-waiting")).toHaveCount(0);
  await t.close();

  // The student's open dashboard shows the VM (its poller hears of it) and no notice.
  await expect(page.locator(`${VM_GRID} .vm-card`).filter({ hasText: "wait-lab-student-2" })).toBeVisible({ timeout: 30_000 });
  await expect(notice).toHaveCount(0);
  expect(errors).toEqual([]);
});
