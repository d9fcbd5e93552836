import { expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { HYDRATED, ROUTE_LOGIN, VM_GRID } from "./ids";

export const jsEnabled = (process.env.E2E_MODE ?? "js") !== "nojs";

/** Waits until the page can be used: hydrated with JavaScript, loaded without. */
export async function ready(page: Page) {
  if (jsEnabled) {
    await expect(page.locator(HYDRATED)).toHaveCount(1);
  } else {
    await page.waitForLoadState("load");
  }
}

/** Collects uncaught page errors, so a test can assert there were none. */
export function trackErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return errors;
}

export const PASSWORD = "correct horse battery staple";

/** The `proxlab demo` portal the test command started. */
export const demoUrl = () => {
  const url = process.env.DEMO_URL;
  if (!url) throw new Error("DEMO_URL is not set (the test command starts `proxlab demo`)");
  return url;
};

/** The account passwords `proxlab demo` printed. */
export function demoPasswords(): Record<string, string> {
  const log = readFileSync(process.env.DEMO_LOG ?? "", "utf8");
  const found: Record<string, string> = {};
  for (const m of log.matchAll(/^\s+(\w+)\s+([a-z]{4}-[a-z]{4}-[a-z]{4})\s+\(/gm)) found[m[1]] = m[2];
  return found;
}

/** Signs in to the demo portal (with the printed password unless one is given) and waits
 *  for the dashboard. */
export async function demoSignIn(page: Page, username: string, password?: string) {
  await page.goto(`${demoUrl()}${ROUTE_LOGIN}`);
  await ready(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password ?? demoPasswords()[username]);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(VM_GRID)).toBeVisible();
  await ready(page);
}
