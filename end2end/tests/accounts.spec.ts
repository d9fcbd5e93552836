// The first-run story: an admin created through the printed one-time link, a teacher created
// from the Users page, sign out, a wrong password, the teacher signs in and sees only the
// teacher's navigation. Runs hydrated and with JavaScript disabled (E2E_MODE).
import { expect } from "@playwright/test";
import { FORM_ERROR, LOGOUT_BUTTON, ROUTE_ADMIN_USERS, ROUTE_LOGIN, USER_MENU, USERS_TABLE } from "./ids";
import { PASSWORD, ready, trackErrors, test } from "./helpers";

test.describe.configure({ mode: "serial" });

const setupLink = () => {
  const link = process.env.PROXLAB_SETUP_LINK;
  if (!link) throw new Error("no setup link in the server output (is the database fresh?)");
  return link;
};

test("first-run setup through the printed link, then create a teacher and sign out", async ({ page }) => {
  const errors = trackErrors(page);
  await page.goto(setupLink());
  await ready(page);
  await page.getByLabel("Admin username").fill("admin");
  await page.getByLabel("Your name").fill("Ada Admin");
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Repeat it").fill(PASSWORD);
  await page.getByRole("button", { name: "Create admin" }).click();

  await expect(page.getByRole("heading", { name: "Welcome, Ada Admin" })).toBeVisible();
  await ready(page);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users" }).click();
  await expect(page).toHaveURL(new RegExp(`${ROUTE_ADMIN_USERS}$`));
  await ready(page);

  await page.locator("#new-username").fill("teacher1");
  await page.locator("#new-display-name").fill("Tess Teacher");
  await page.locator("#new-role").selectOption("teacher");
  await page.locator("#new-password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create", exact: true }).click();
  const row = page.locator(`${USERS_TABLE} tr[data-username="teacher1"]`);
  await expect(row).toBeVisible();
  await expect(row).toContainText("Tess Teacher");
  await expect(row.locator("select")).toHaveValue("teacher");

  await ready(page);
  await page.locator(`${USER_MENU} summary`).click();
  await page.locator(LOGOUT_BUTTON).click();
  await expect(page).toHaveURL(new RegExp(`${ROUTE_LOGIN}$`));
  // Signed out for real: the admin page sends us back to the login page.
  await page.goto(ROUTE_ADMIN_USERS);
  await expect(page).toHaveURL(/\/login\?next=\/admin\/users/);
  expect(errors).toEqual([]);
});

test("a wrong password shows an error; the teacher then signs in", async ({ page }) => {
  const errors = trackErrors(page);
  await page.goto(ROUTE_LOGIN);
  await ready(page);
  await page.getByLabel("Username").fill("teacher1");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.locator(FORM_ERROR)).toHaveText("Wrong username or password.");

  await ready(page);
  await page.getByLabel("Username").fill("teacher1");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Tess Teacher" })).toBeVisible();
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Classes" })).toBeVisible();
  await expect(nav.getByRole("link", { name: "Users" })).toHaveCount(0);
  await expect(nav.getByRole("link", { name: "Clusters" })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("the setup link works only once", async ({ page }) => {
  await page.goto(setupLink());
  await expect(page.getByText("This setup link has been used")).toBeVisible();
});
