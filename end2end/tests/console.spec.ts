// The console tab against `proxlab demo`: a student starts a VM, opens its console from the
// dashboard in a new tab, sees the simulated screen (pixels of a known region), types, and
// sees the VM's screen change. A VM of someone else is refused. Needs JavaScript (noVNC).
import { expect, Page } from "@playwright/test";
import { VM_GRID } from "./ids";
import { jsEnabled, openThenSignOut, trackErrors, demoSignIn, demoUrl, test } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the console is noVNC: it needs JavaScript");

/** In the console tab: the time (ms since the epoch) its canvas first shows the VM's screen,
 *  checked every animation frame, for the click-to-first-frame figure. Playwright evaluates it
 *  again in each new document, so it follows the tab from about:blank to the console page. */
function firstFrameSeen() {
  const canvas = document.querySelector("#console-screen canvas") as HTMLCanvasElement | null;
  const px = canvas?.getContext("2d")?.getImageData(4, 4, 1, 1).data;
  return px && px[0] === 16 && px[1] === 32 && px[2] === 64 ? Date.now() : false;
}

/** Pixels of the console canvas (its framebuffer, whatever the on-screen scale). */
async function region(page: Page, x: number, y: number, w: number, h: number) {
  return page.evaluate(
    ([x, y, w, h]) => {
      const canvas = document.querySelector("#console-screen canvas") as HTMLCanvasElement;
      const data = canvas.getContext("2d")!.getImageData(x, y, w, h).data;
      return Array.from(data);
    },
    [x, y, w, h],
  );
}

const lightPixels = (rgba: number[]) => {
  let n = 0;
  for (let i = 0; i < rgba.length; i += 4) if (rgba[i] > 200 && rgba[i + 1] > 200 && rgba[i + 2] > 200) n++;
  return n;
};

test("a student opens the console of a running VM, sees its screen and types into it", async ({ page, context }) => {
  test.setTimeout(90_000);
  await demoSignIn(page, "student3");
  const card = page.locator(`${VM_GRID} .vm-card`).first();
  if ((await card.locator(".badge").textContent()) === "Stopped") {
    await card.locator('button[data-action="start"]').click();
  }
  // "Running" (with its IP), not "Starting…": a start still in flight shows "Starting…" too,
  // and the portal refuses a console for a VM Proxmox does not report running yet.
  await expect(card.locator(".badge")).toHaveText("Running", { timeout: 40_000 });
  const clickedAt = Date.now();
  const [tab] = await Promise.all([context.waitForEvent("page"), card.locator("a[data-console]").click()]);
  const firstFrame = tab.waitForFunction(firstFrameSeen, undefined, { polling: "raf", timeout: 15_000 });
  const errors = trackErrors(tab);
  await expect(tab.locator("#console-state")).toHaveText("Connected", { timeout: 15_000 });
  // The simulator paints a running VM's screen dark blue (16, 32, 64) with light text.
  await expect(async () => {
    const corner = await region(tab, 4, 4, 1, 1);
    expect(corner.slice(0, 3)).toEqual([16, 32, 64]);
  }).toPass({ timeout: 10_000 });
  // A figure, not an assertion: the target is 500 ms on loopback.
  const firstFrameAt = (await (await firstFrame).jsonValue()) as number;
  // Where the time went, from the tab's own clock (ms after its navigation started).
  const parts = await tab.evaluate((frameAt) => {
    const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
    const files = performance.getEntriesByType("resource").map((e) => `${e.name.split("/").pop()} ${Math.round(e.responseEnd)}`);
    return `HTML ${Math.round(nav.responseEnd)}, ${files.join(", ")}, DOMContentLoaded ${Math.round(nav.domContentLoadedEventEnd)}, first frame ${Math.round(frameAt - performance.timeOrigin)}`;
  }, firstFrameAt);
  console.log(`console: click to first frame ${firstFrameAt - clickedAt} ms (new tab, page load, WebSocket, RFB); in the tab: ${parts}`);
  // The console page is sent without the app's wasm (nothing on it hydrates).
  expect(parts).not.toContain("proxlab.wasm");
  // Line 5 of the screen echoes typed text ("> …", glyphs 16 px wide from x = 16, y = 120).
  const typedArea = () => region(tab, 48, 120, 64, 16);
  expect(lightPixels(await typedArea())).toBe(0);
  await tab.locator("#console-screen canvas").click();
  await tab.keyboard.type("hi");
  await expect(async () => expect(lightPixels(await typedArea())).toBeGreaterThan(20)).toPass({ timeout: 10_000 });
  // Paste types too.
  await tab.locator("#console-paste-text").fill("ok");
  await tab.getByRole("button", { name: "Type it" }).click();
  await expect(async () => expect(lightPixels(await region(tab, 80, 120, 64, 16))).toBeGreaterThan(20)).toPass({ timeout: 10_000 });
  expect(errors).toEqual([]);
});

test("another student's console is refused, before and at the WebSocket", async ({ page }) => {
  await demoSignIn(page, "student2");
  // student3's VM is the fifth assignment of the demo; student2 cannot open it.
  const own = await page.locator(`${VM_GRID} .vm-card`).first().getAttribute("id");
  const [, cluster, vmid] = (own ?? "").split("-");
  const other = Number(vmid) + 1;
  await page.goto(`${demoUrl()}/console/${cluster}/${other}`);
  await expect(page.locator("#console-refused")).toContainText("do not have access");
  const status = await page.evaluate(async (path) => {
    return await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://${location.host}${path}`, ["binary"]);
      ws.onopen = () => resolve("open");
      ws.onerror = () => resolve("refused");
    });
  }, `/ws/console/${cluster}/${other}`);
  expect(status).toBe("refused");
});

test("signing out ends an open console within seconds", async ({ page, context }) => {
  test.setTimeout(60_000);
  const { tab, signedOutAt } = await openThenSignOut(page, context, "student3", "console");
  // The server closes the socket with 4403 and the page says why (not "connection lost").
  await expect(tab.locator("#console-state")).toContainText("Access ended", { timeout: 5_000 });
  console.log(`console: sign-out to closed ${Date.now() - signedOutAt} ms`);
});
