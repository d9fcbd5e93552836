// A class after launch on `proxlab demo`: its teacher renames it, writes a description and
// changes the invite's expiry (the link stays the same; a bad value is refused); a student who
// joins follows the card's class link to the class page, which names the teacher and states
// the rules for their VM; another student gets "not found". Hydrated only (the wizard).
import { expect } from "@playwright/test";
import { VM_GRID } from "./ids";
import { demoSignIn, jsEnabled, launchClass, ready, registerThroughInvite, test, trackErrors, shotBoth } from "./helpers";

test.describe.configure({ mode: "serial" });
test.skip(!jsEnabled, "the wizard's review step needs JavaScript");

let invite = "";
let aboutUrl = "";
const shots = process.env.E2E_SHOTS;

test("a teacher edits a launched class", async ({ page }) => {
  test.setTimeout(150_000);
  const errors = trackErrors(page);
  await demoSignIn(page, "teacher");
  await launchClass(page, "Draft Name", 1);
  await ready(page);
  await expect(page.locator("#class-progress")).toHaveAttribute("data-active", "false", { timeout: 90_000 });
  invite = (await page.locator("#invite-link").inputValue()).trim();
  const edit = page.locator("#class-edit");
  await expect(edit.getByLabel("Class name")).toHaveValue("Draft Name");
  // A name made of spaces only is refused by the server with the reason; nothing changes.
  await edit.getByLabel("Class name").fill("   ");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(page.locator('[role="alert"]')).toContainText("Class name: 1 to 80 characters");
  await expect(page.locator("h1")).toHaveText("Draft Name");

  await edit.getByLabel("Class name").fill("Networks 101");
  await edit.getByLabel("Description (students see it)").fill("Bring your notes from week 1.");
  await edit.getByLabel(/Invite link expires in/).fill("");
  await edit.getByRole("button", { name: "Save" }).click();
  await expect(page.locator("h1")).toHaveText("Networks 101");
  await expect(page.locator("#invite-link")).toHaveValue(invite);
  await expect(page.getByText("Never expires.")).toBeVisible();
  if (shots) await edit.screenshot({ path: `${shots}/class-edit.png` });
  expect(errors).toEqual([]);
});

test("a student reads the class page from their card", async ({ page, browser }) => {
  test.setTimeout(60_000);
  const errors = trackErrors(page);
  await registerThroughInvite(page, invite, "aboutstudent", "About Student");
  await page.getByRole("button", { name: "Join and get my VM" }).click();
  const card = page.locator(`${VM_GRID} .vm-card`).filter({ hasText: "Networks 101" });
  await expect(card).toBeVisible({ timeout: 20_000 });
  await card.getByRole("link", { name: "Networks 101" }).click();
  await page.waitForURL(/\/classes\/\d+\/about$/);
  aboutUrl = page.url();
  await ready(page);
  await expect(page.locator("h1")).toHaveText("Networks 101");
  await expect(page.locator("#class-teachers")).toContainText("Taught by");
  await expect(page.getByText("Bring your notes from week 1.")).toBeVisible();
  await expect(page.locator("#class-my-vms li")).toHaveCount(1);
  await expect(page.locator("#class-rules")).toContainText("Snapshots: not allowed in this class.");
  await shotBoth(page, "class-about");

  const other = await browser.newContext();
  const p2 = await other.newPage();
  await demoSignIn(p2, "student2");
  const res = await p2.goto(aboutUrl);
  expect(res?.status()).toBe(404);
  await expect(p2.locator("#class-about-refused")).toBeVisible();
  await other.close();
  expect(errors).toEqual([]);
});
