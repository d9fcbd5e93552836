// The admin's Jobs page against `proxlab demo`: a teacher launches a small class (the demo
// starts with no jobs; the wizard's review step needs JavaScript, so that part always runs in
// a JavaScript context of its own), then the admin opens Jobs from the navigation, sees the
// class's deploy job with its class link, and switches the filter with plain links. The admin
// part runs hydrated and without JavaScript (E2E_MODE).
import { expect, Page } from "@playwright/test";
import { JOBS_TABLE, ROUTE_ADMIN_JOBS } from "./ids";
import { demoSignIn, demoUrl, eventually, jsEnabled, launchClass, ready, trackErrors, test, watchPolicies } from "./helpers";

test.describe.configure({ mode: "serial" });

const CLASS = "Jobs 101";
let classPath = "";

test("a teacher launches a small class, which queues a deploy job", async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ javaScriptEnabled: true });
  const violations = await watchPolicies(context);
  const page = await context.newPage();
  await demoSignIn(page, "teacher");
  classPath = await launchClass(page, CLASS, 1);
  await context.close();
  expect(violations).toEqual([]);
});

test("an admin opens Jobs, sees the deploy job and filters to All", async ({ page }) => {
  test.setTimeout(60_000);
  const errors = trackErrors(page);
  await demoSignIn(page, "admin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" }).click();
  await page.waitForURL(new RegExp(`${ROUTE_ADMIN_JOBS}$`));
  await ready(page);
  await expect(page.getByRole("heading", { name: "Jobs" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Unfinished" })).toHaveAttribute("aria-current", "page");

  await page.getByRole("link", { name: "All", exact: true }).click();
  await page.waitForURL(/\/admin\/jobs\?state=all$/);
  await ready(page);
  await expect(page.getByRole("link", { name: "All", exact: true })).toHaveAttribute("aria-current", "page");
  const row = page.locator(`${JOBS_TABLE} tr[data-kind="deploy"]`).filter({ hasText: CLASS });
  await expect(row).toHaveCount(1);
  await expect(row.getByRole("link", { name: CLASS })).toHaveAttribute("href", classPath);
  // The deploy finishes (the demo is quick): done, its three VMs made (teacher, student,
  // class base), nothing left to cancel.
  await eventually(page, async () => {
    await expect(row).toHaveAttribute("data-state", "done", { timeout: 1000 });
  });
  await expect(row.locator(".job-state")).toHaveText("Done");
  await expect(row).toContainText("3/3");
  await expect(row).toContainText("teacher");
  await expect(row.getByRole("button", { name: /Cancel/ })).toHaveCount(0);

  // Refresh keeps the filter; Failed lists failed jobs only; Unfinished no longer has it.
  await page.locator("#jobs-refresh").click();
  await expect(page).toHaveURL(/\?state=all$/);
  await expect(row).toHaveCount(1);
  await page.getByRole("link", { name: "Failed" }).click();
  await page.waitForURL(/\?state=failed$/);
  await ready(page);
  await expect(page.locator(`${JOBS_TABLE} tr[data-kind]:not([data-state="failed"])`)).toHaveCount(0);
  await page.getByRole("link", { name: "Unfinished" }).click();
  await page.waitForURL(/\?state=active$/);
  await ready(page);
  await expect(page.locator(`${JOBS_TABLE} tr[data-kind="deploy"]`).filter({ hasText: CLASS })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("a teacher is refused the Jobs page", async ({ page }) => {
  await demoSignIn(page, "teacher");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Jobs" })).toHaveCount(0);
  const res = await page.goto(`${demoUrl()}${ROUTE_ADMIN_JOBS}`);
  expect(res?.status()).toBe(403);
});
