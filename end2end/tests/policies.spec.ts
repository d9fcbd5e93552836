// Lab policies against `proxlab demo`: a teacher sets each policy on a new class's page
// (idle shutdown, access hours, a quota, the warning time and zone), adds a schedule and
// sees it with its next time; a student joins, starts the VM, sees their hours and today's
// class hours on the card; after five idle minutes the card warns "Your VM shuts down in 10
// minutes: it has been idle", the student presses "I'm still here" and the warning goes; the
// teacher sees it all in the policy log and adds an hour. Hydrated only (the wizard's review).
import { expect, Locator, Page } from "@playwright/test";
import { VM_GRID } from "./ids";
import { jsEnabled, launchClass, ready, registerThroughInvite, trackErrors, demoSignIn, test, watchPolicies } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the wizard's review step needs JavaScript");

let classUrl = "";
let invite = "";
const shots = process.env.E2E_SHOTS;

async function shot(page: Page, name: string) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

async function shotOf(part: Locator, name: string) {
  if (shots) await part.screenshot({ path: `${shots}/${name}.png` });
}

test("a teacher makes a class and sets each policy", async ({ page }) => {
  test.setTimeout(150_000);
  const errors = trackErrors(page);
  await demoSignIn(page, "teacher");
  await launchClass(page, "Policy Lab", 1);
  classUrl = page.url();
  await ready(page);
  await expect(page.locator("#class-progress")).toHaveAttribute("data-active", "false", { timeout: 90_000 });
  invite = (await page.locator("#invite-link").inputValue()).trim();

  const panel = page.locator("#class-policies");
  await expect(panel.locator("#policy-summary")).toContainText("follows the site's defaults");
  await panel.getByLabel("Shut down VMs nobody uses").check();
  await panel.getByLabel("For (minutes)").fill("5");
  await panel.locator("#access-hours").fill("daily 00:00-24:00");
  await panel.getByLabel("Hours per student (0: unlimited)").fill("2");
  await panel.getByLabel("Warn (minutes before)").fill("10");
  await panel.getByLabel("Time zone").fill("UTC");
  await panel.getByRole("button", { name: "Save policies" }).click();
  await expect(panel.locator("#policy-summary")).toContainText("This class has its own policies. Time zone: UTC. Access hours: open now.");
  // A bad value is refused with the reason, and nothing changes (the browser checks the
  // numbers itself; the hours are the server's to check).
  await panel.locator("#access-hours").fill("Mon 25:00-26:00");
  await panel.getByRole("button", { name: "Save policies" }).click();
  await expect(page.locator('[role="alert"]')).toContainText('"25:00" is not a time');
  await page.reload();
  await ready(page);
  await expect(panel.getByLabel("For (minutes)")).toHaveValue("5");
  await expect(panel.getByLabel("Shut down VMs nobody uses")).toBeChecked();
  await expect(panel.locator("#access-hours")).toHaveValue("daily 00:00-24:00");

  // A one-off shutdown far ahead: listed with its next time in the class's zone.
  const schedule = panel.locator("#schedule-form");
  await schedule.getByLabel("Action").selectOption("shutdown");
  await schedule.getByLabel("On", { exact: true }).fill("2030-01-01");
  await schedule.getByLabel("At", { exact: true }).fill("08:00");
  await schedule.getByRole("button", { name: "Add schedule" }).click();
  await expect(panel.locator("#class-schedules")).toContainText("Tue 2030-01-01 08:00 UTC");
  await shotOf(panel, "class-policies");
  expect(errors).toEqual([]);
});

test("a student sees their hours, is warned when idle and says they are still here", async ({ page, browser }) => {
  test.setTimeout(480_000);
  const errors = trackErrors(page);
  await registerThroughInvite(page, invite, "idlestudent", "Idle Student");
  await page.getByRole("button", { name: "Join and get my VM" }).click();
  const card = page.locator(`${VM_GRID} .vm-card`).filter({ hasText: "policy-lab-student-1" });
  await expect(card).toBeVisible({ timeout: 20_000 });
  await card.locator('button[data-action="start"]').click();
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 30_000 });
  await expect(card.locator(".usage-hours")).toContainText("left");
  await expect(card.locator(".class-hours")).toContainText("00:00-24:00 (open now)");

  // Nobody uses it: after 5 idle minutes the card warns (the dashboard polls on its own).
  const banner = card.locator(".policy-notice");
  await expect(banner).toContainText(/Your VM shuts down in (10|9) minutes: it has been idle\./, { timeout: 420_000 });
  await shot(page, "dashboard-idle-warning");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "dashboard-idle-warning-phone");
  await page.setViewportSize({ width: 1366, height: 900 });
  // The console tab shows the same warning.
  const [tab] = await Promise.all([page.context().waitForEvent("page"), card.locator("a[data-console]").click()]);
  await expect(tab.locator("#policy-notice")).toContainText("it has been idle", { timeout: 15_000 });
  await shot(tab, "console-idle-warning");
  await tab.close();
  await banner.getByRole("button", { name: "I'm still here" }).click();
  await expect(card.locator(".policy-notice")).toHaveCount(0, { timeout: 15_000 });
  await expect(card.locator(".badge")).toHaveText("Running");
  expect(errors).toEqual([]);

  // The teacher sees the warning and the answer in the log, and gives an hour more.
  const teacher = await browser.newPage();
  const violations = await watchPolicies(teacher.context());
  await demoSignIn(teacher, "teacher");
  await teacher.goto(classUrl);
  await ready(teacher);
  const log = teacher.locator("#policy-log");
  await expect(log).toContainText("warn");
  await expect(log).toContainText("still-here");
  const row = teacher.locator('#class-usage tr[data-student="idlestudent"]');
  await expect(row.locator(".left")).toContainText(/1 h 5\d min|2 h 00 min/);
  await row.getByRole("button", { name: "Add hours" }).click();
  await expect(row.locator(".left")).toContainText(/2 h 5\d min|3 h 00 min/);
  expect(violations).toEqual([]);
});

test("an admin sets the site's default policies", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.getByRole("link", { name: "Policies" }).click();
  await ready(page);
  const form = page.locator("#site-policy-form");
  // Defaults every class of the demo follows (the later specs use them): hours that are
  // always open, so that nothing those specs do is refused.
  await form.locator("#access-hours").fill("Mon-Fri 00:00-24:00\nSat-Sun 00:00-24:00");
  await form.getByLabel("Warn (minutes before)").fill("15");
  await form.getByLabel("Time zone").fill("Mars/Olympus");
  await form.getByRole("button", { name: "Save defaults" }).click();
  await expect(page.locator('[role="alert"]')).toContainText("not a time zone");
  await form.getByLabel("Time zone").fill("Europe/London");
  await form.getByRole("button", { name: "Save defaults" }).click();
  await expect(page.getByRole("status")).toHaveText("Saved.");
  await page.reload();
  await ready(page);
  await expect(form.getByLabel("Warn (minutes before)")).toHaveValue("15");
  await expect(form.locator("#access-hours")).toHaveValue("Mon-Fri 00:00-24:00\nSat,Sun 00:00-24:00");
  await shot(page, "admin-policies");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "admin-policies-phone");
  await page.goto(classUrl);
  await ready(page);
  await shotOf(page.locator("#class-policies"), "class-policies-phone");
  expect(errors).toEqual([]);
});
