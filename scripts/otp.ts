// `npm run otp -- <BASE32_SECRET>`: the current TOTP code, for trying 2FA locally without a phone.
// Runs with Node's type stripping and uses the service's own TOTP wrapper, so both always agree.
import { decodeTotpSecret, generateTotp, totpSecondsLeft } from "../src/twofactor/totp.ts";

const secret = process.argv[2];
if (!secret) {
  console.error("usage: npm run otp -- <BASE32_SECRET>");
  process.exit(2);
}
let key: Uint8Array;
try {
  key = decodeTotpSecret(secret);
} catch {
  console.error("not a base32 secret");
  process.exit(2);
}
const now = Date.now();
console.log(`${generateTotp(key, now)}  (${totpSecondsLeft(now)} s left)`);
