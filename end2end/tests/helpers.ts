import { expect, Page } from "@playwright/test";
import { HYDRATED } from "./ids";

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
