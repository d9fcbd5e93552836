// The audit log on `proxlab demo`: a failed sign-in is recorded with the name as typed, the
// client's address and "Denied"; the admin finds it with the filter (kept in the address),
// and downloads the same lines as CSV. A teacher has the page for their classes' lines; a
// student gets no page.
import { expect } from "@playwright/test";
import { readFileSync } from "node:fs";
import { AUDIT_TABLE, FORM_ERROR, ROUTE_AUDIT, ROUTE_LOGIN } from "./ids";
import { demoSignIn, demoUrl, ready, shotBoth, test, trackErrors } from "./helpers";

test("an admin finds a failed sign-in in the audit log and downloads it", async ({ page }) => {
  const errors = trackErrors(page);
  const ghost = `ghost${Date.now() % 1_000_000}`;
  await page.goto(`${demoUrl()}${ROUTE_LOGIN}`);
  await ready(page);
  await page.getByLabel("Username").fill(ghost);
  await page.getByLabel("Password").fill("not a password of anyone");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(FORM_ERROR)).toHaveText("Wrong username or password.");

  await demoSignIn(page, "admin");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit", exact: true }).click();
  await page.waitForURL(new RegExp(`${ROUTE_AUDIT}$`));
  await ready(page);
  const table = page.locator(AUDIT_TABLE);
  await expect(table.locator("tbody tr").first()).toBeVisible();
  await expect(table).toContainText("Signed in");

  await page.locator('#audit-filter select[name="area"]').selectOption("sign-in");
  await page.locator('#audit-filter input[name="who"]').fill(ghost);
  await page.getByRole("button", { name: "Show" }).click();
  await page.waitForURL(new RegExp(`\\?area=sign-in&who=${ghost}`));
  await ready(page);
  const rows = table.locator("tbody tr");
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute("data-action", "sign_in_failed");
  await expect(rows.first()).toContainText("Sign-in failed");
  await expect(rows.first()).toContainText("Denied");
  await expect(rows.first()).toContainText("127.0.0.1");
  await expect(page.locator('#audit-filter input[name="who"]')).toHaveValue(ghost);
  await shotBoth(page, "audit");

  const [download] = await Promise.all([page.waitForEvent("download"), page.locator("#audit-csv").click()]);
  expect(download.suggestedFilename()).toMatch(/^proxlab-audit-\d{8}\.csv$/);
  const csv = readFileSync((await download.path())!, "utf8").split("\r\n").filter((l) => l);
  expect(csv[0]).toBe("time_utc,actor,action,object,address,outcome,detail");
  expect(csv).toHaveLength(2);
  expect(csv[1]).toContain(`,${ghost},sign_in_failed,the portal,127.0.0.1,denied,`);
  expect(errors).toEqual([]);
});

test("a teacher has the audit page", async ({ page }) => {
  const errors = trackErrors(page);
  await demoSignIn(page, "teacher");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit", exact: true }).click();
  await page.waitForURL(new RegExp(`${ROUTE_AUDIT}$`));
  await ready(page);
  await expect(page.getByRole("heading", { name: "Audit log" })).toBeVisible();
  await expect(page.locator(`${AUDIT_TABLE}, #audit-empty`)).toBeVisible();
  expect(errors).toEqual([]);
});

test("a student has no audit page", async ({ page }) => {
  await demoSignIn(page, "student1");
  await expect(page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" })).toHaveCount(0);
  const res = await page.goto(`${demoUrl()}${ROUTE_AUDIT}`);
  expect(res?.status()).toBe(403);
});
