import { test as base, BrowserContext, expect, Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { HYDRATED, LOGOUT_BUTTON, ROUTE_LOGIN, USER_MENU, VM_GRID } from "./ids";

export const jsEnabled = (process.env.E2E_MODE ?? "js") !== "nojs";

/** Waits until the page can be used: hydrated with JavaScript, loaded without. */
export async function ready(page: Page) {
  if (jsEnabled) {
    await expect(page.locator(HYDRATED)).toHaveCount(1);
  } else {
    await page.waitForLoadState("load");
  }
}

/** Collects what the browser refused under the portal's Content-Security-Policy (and any
 *  complaint about its Permissions-Policy) in every page of `context`: the console messages
 *  Chromium logs for them, and the `securitypolicyviolation` events pages see. */
export async function watchPolicies(context: BrowserContext): Promise<string[]> {
  const found: string[] = [];
  context.on("console", (msg) => {
    if (/Content Security Policy|Permissions-Policy/i.test(msg.text())) found.push(msg.text());
  });
  await context.exposeBinding("__proxlabPolicyViolation", (_source, text: string) => {
    found.push(text);
  });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      const report = (window as unknown as { __proxlabPolicyViolation?: (t: string) => void }).__proxlabPolicyViolation;
      report?.(`CSP ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${e.documentURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return found;
}

/** Playwright's `test`, failing any test during which a page of its context broke the
 *  portal's Content-Security-Policy: every flow doubles as a check that the policy lets the
 *  app, the console and the terminal work. A page opened with `browser.newPage()` is in a
 *  context of its own: watch it with `watchPolicies`. */
export const test = base.extend<{ policyViolations: string[] }>({
  policyViolations: [
    async ({ context }, use) => {
      const found = await watchPolicies(context);
      await use(found);
      expect(found, "Content-Security-Policy or Permissions-Policy violations").toEqual([]);
    },
    { auto: true },
  ],
});

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
 *  for the dashboard (its VM grid, or its welcome for an account without VMs). */
export async function demoSignIn(page: Page, username: string, password?: string, hasVms = true) {
  await page.goto(`${demoUrl()}${ROUTE_LOGIN}`);
  await ready(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password ?? demoPasswords()[username]);
  await page.getByRole("button", { name: "Sign in" }).click();
  if (hasVms) await expect(page.locator(VM_GRID)).toBeVisible();
  else await expect(page.getByRole("heading", { name: `Welcome, ${username}` })).toBeVisible();
  await ready(page);
}

/** Signs `username` in to the demo, opens their first (running) VM's `kind` tab from its card,
 *  waits for "Connected", then signs out in the dashboard tab. Returns the VM's tab and when
 *  the sign-out was clicked. */
export async function openThenSignOut(page: Page, context: BrowserContext, username: string, kind: "console" | "terminal") {
  await demoSignIn(page, username);
  const card = page.locator(`${VM_GRID} .vm-card`).first();
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 40_000 });
  const [tab] = await Promise.all([context.waitForEvent("page"), card.locator(`a[data-${kind}]`).click()]);
  await expect(tab.locator(`#${kind}-state`)).toHaveText("Connected", { timeout: 15_000 });
  await page.locator(`${USER_MENU} summary`).click();
  const signedOutAt = Date.now();
  await page.locator(LOGOUT_BUTTON).click();
  return { tab, signedOutAt };
}

/** Waits for a condition on the page; without JavaScript nothing polls, so reload. */
export async function eventually(page: Page, check: () => Promise<void>, timeout = 40_000) {
  if (jsEnabled) {
    await expect(check).toPass({ timeout });
  } else {
    await expect(async () => {
      await page.reload();
      await check();
    }).toPass({ timeout, intervals: [1000] });
  }
}

/** On the demo, as a signed-in teacher in a JavaScript context (the review step needs it):
 *  runs the wizard for a class of `students` VMs of the first template, launches it and waits
 *  for the class page. Returns the page's path. */
export async function launchClass(page: Page, name: string, students: number) {
  await page.goto(`${demoUrl()}/classes/new`);
  await expect(page.locator(HYDRATED)).toHaveCount(1);
  await page.getByLabel("Class name").fill(name);
  await page.getByLabel("Template VM").selectOption({ index: 0 });
  await page.getByLabel(/Student VMs/).fill(String(students));
  // The review reads the cluster as it is now; while another class's deployment is under
  // way it may say why not yet (its message is in the failure if it never clears).
  await expect(async () => {
    await page.locator("#review-class").click();
    const refused = page.locator(".form-error:not(.blockers)");
    await expect(page.locator("#class-review").or(refused).first()).toBeVisible({ timeout: 5_000 });
    expect(await refused.allTextContents()).toEqual([]);
    expect(await page.locator("#class-review .blockers li").allTextContents()).toEqual([]);
  }).toPass({ timeout: 60_000 });
  await page.getByRole("button", { name: "Launch" }).click();
  await page.waitForURL(/\/classes\/\d+$/);
  return new URL(page.url()).pathname;
}

/** Opens an invite link signed out, creates the account `username` from the sign-in page and
 *  lands on the join page. */
export async function registerThroughInvite(page: Page, invite: string, username: string, name: string) {
  await page.goto(invite);
  await page.waitForURL(/\/login\?next=/);
  await ready(page);
  await page.getByRole("link", { name: "Create one" }).click();
  await ready(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Repeat it").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/join\//);
  await ready(page);
}

/** With `E2E_SHOTS` set (a folder): a full-page screenshot at desktop width and one at a
 *  phone's (390 px), named `<name>-desktop.png` and `<name>-phone.png`. */
export async function shotBoth(page: Page, name: string) {
  const dir = process.env.E2E_SHOTS;
  if (!dir) return;
  await page.screenshot({ path: `${dir}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${dir}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}
