// The hosted sign-up page (GET /signup): posts to /auth/register and shows the API's reasons (password
// policy, invalid email, username rules) next to the field they are about.
import { $, ApiError, api, busy, fail, say } from "./common.js";

const FIELDS = ["full_name", "email", "username", "password"];
const form = $("signup-form");

function showFieldErrors(errors) {
  for (const field of FIELDS) {
    $(`${field}-error`).textContent = "";
    form.elements[field].removeAttribute("aria-invalid");
  }
  let first = null;
  for (const { path, message } of errors) {
    const field = FIELDS.find((f) => path === f || path.startsWith(`${f}.`));
    if (!field) continue;
    $(`${field}-error`).textContent = message;
    form.elements[field].setAttribute("aria-invalid", "true");
    first ??= form.elements[field];
  }
  first?.focus();
  return first !== null;
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  busy(form, async () => {
    showFieldErrors([]);
    const body = { email: form.elements.email.value.trim(), password: form.elements.password.value };
    const fullName = form.elements.full_name.value.trim();
    const username = form.elements.username.value.trim();
    if (fullName) body.full_name = fullName;
    if (username) body.username = username;
    say("Creating your account…");
    try {
      await api("/auth/register", { method: "POST", body });
    } catch (err) {
      if (err instanceof ApiError && err.status === 422 && showFieldErrors(err.errors)) {
        fail("Please correct the highlighted fields.");
        return;
      }
      throw err;
    }
    form.hidden = true;
    say(`Check your inbox: we sent a link to ${body.email} to confirm the address. Then sign in.`);
  }).catch(fail);
});
