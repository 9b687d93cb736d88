// Generates tests/data/zod_emails.json: verdicts of zod 3's `z.string().email()`
// for a fixed list of tricky candidate addresses. The Rust email validator is
// tested against this table.
//
// To regenerate (zod version is pinned exactly in package.json / package-lock.json):
//
//   cd scripts/zod-emails && npm install && node generate.mjs
//
// Only the email *format* check is exercised here: no .min()/.max()/.trim(),
// so a verdict says only whether .email() accepts the raw string as-is.
//
// For reference, zod 3.25.76 (`import { z } from "zod"` -> zod/v3) uses, in
// v3/types.js, `emailRegex.test(input.data)` with
//   /^(?!\.)(?!.*\.\.)([A-Z0-9_'+\-\.]*)[A-Z0-9_+-]@([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}$/i
// (flag `i` only: no `u`, `m`, `s`, `g`).

import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

const here = dirname(fileURLToPath(import.meta.url));
const outPath = resolve(here, "../../tests/data/zod_emails.json");

const candidates = [
  // --- plain valid shapes ---
  "a@b.co",
  "user@example.com",
  "john.doe@example.com",
  "first.middle.last@sub.domain.example.org",
  "user@mail.example.co.uk",
  "x@ex.museum",
  "1234567890@example.com",
  "_underscore_@example.com",
  "-hyphen-start@example.com",
  "hyphen-end-@example.com",
  "UPPER.CASE@EXAMPLE.COM",
  "MiXeD.CaSe@ExAmPlE.CoM",
  "user@123.example.com",
  "user@a.b.c.d.e.example.com",
  "user@x-y.example.com",

  // --- plus-addressing / apostrophe ---
  "user+tag@example.com",
  "user+tag+more@example.com",
  "+@example.com",
  "user+@example.com",
  "o'brien@example.com",
  "'leading@example.com",
  "trailing'@example.com",
  "d'artagnan.o'neil@example.com",

  // --- dots in local part ---
  ".leading@example.com",
  "trailing.@example.com",
  "double..dot@example.com",
  "a.b.c.d@example.com",
  ".@example.com",
  "a.@example.com",

  // --- special characters in local part ---
  "user!bang@example.com",
  "user#hash@example.com",
  "user$dollar@example.com",
  "user%percent@example.com",
  "user%example.org@example.com",
  "user&amp@example.com",
  "user*star@example.com",
  "user=equals@example.com",
  "user?q@example.com",
  "user^caret@example.com",
  "user{brace}@example.com",
  "user|pipe@example.com",
  "user~tilde@example.com",
  "user`tick@example.com",
  "user/slash@example.com",
  "!#$%&*=?^{|}~@example.com",
  "user,comma@example.com",
  "user;semi@example.com",
  "user:colon@example.com",
  "user<lt>@example.com",
  "user(comment)@example.com",
  "user\\backslash@example.com",

  // --- quoted local parts ---
  "\"quoted\"@example.com",
  "\"john doe\"@example.com",
  "\"a@b\"@example.com",
  "\"\"@example.com",
  "\"very.(),:;<>[]\\\".VERY.\\\"very@\\\\ \\\"very\\\".unusual\"@strange.example.com",

  // --- IP literal / IPv6 domains ---
  "user@[1.2.3.4]",
  "user@[192.168.0.1]",
  "user@[IPv6:2001:db8::1]",
  "user@[IPv6:::1]",
  "user@1.2.3.4",
  "user@192.168.0.1.com",

  // --- unicode ---
  "josé@example.com",
  "user@exämple.com",
  "user@example.日本",
  "日本@example.com",
  "用户@例子.广告",
  "user@bücher.de",
  "ü@example.com",
  "user@example.cöm",
  "\u017Ftrict@example.com", // LATIN SMALL LETTER LONG S (uppercases to 'S')
  "user@example.\u212Aom", // KELVIN SIGN (case-folds to 'k')
  "user@\u212Aelvin.com",
  "user@example.com\u200B", // zero-width space at end
  "user\u00A0@example.com", // no-break space in local part

  // --- punycode ---
  "user@xn--bcher-kva.de",
  "user@xn--r8jz45g.xn--zckzah",
  "user@example.xn--p1ai",
  "xn--user@example.com",

  // --- domain label hyphens / underscores ---
  "user@-example.com",
  "user@example-.com",
  "user@ex--ample.com",
  "user@sub.-example.com",
  "user@sub-.example.com",
  "user@example.-com",
  "user@example.com-",
  "user@exa_mple.com",
  "user@_dmarc.example.com",
  "user@example.c_m",

  // --- TLD shapes ---
  "user@example.c",
  "user@example.co",
  "user@example.c0m",
  "user@example.123",
  "user@example.1com",
  "user@example.com1",
  "user@localhost",
  "user@com",
  "user@example.verylongtopleveldomainthatgoesonandonandonandonforeveryesreally",
  "user@example." + "a".repeat(63),
  "user@example." + "a".repeat(64),

  // --- whitespace ---
  " user@example.com",
  "user@example.com ",
  " user@example.com ",
  "us er@example.com",
  "user@exa mple.com",
  "user @example.com",
  "user@ example.com",
  "user\t@example.com",
  "\tuser@example.com",
  "user@example.com\t",
  "a@b.co\n",
  "\na@b.co",
  "a@b.co\r\n",
  "a\n@b.co",
  "a@b.co\u2028",
  "a\u0000@b.co",

  // --- @ count / empty parts ---
  "userexample.com",
  "user@@example.com",
  "user@foo@example.com",
  "@example.com",
  "user@",
  "@",
  "",
  "user@.com",
  "user@.example.com",

  // --- domain dots ---
  "user@example..com",
  "user@sub..example.com",
  "user@example.com.",
  "user@example.",
  "user.@.example.com",
  "user@example",

  // --- long labels / long addresses ---
  "a".repeat(64) + "@example.com",
  "a".repeat(65) + "@example.com",
  "user@" + "a".repeat(63) + ".com",
  "user@" + "a".repeat(64) + ".com",
  "user@" + Array(10).fill("a".repeat(30)).join(".") + ".com",
  "a".repeat(100) + "@" + "b".repeat(100) + ".example.com",
  "a".repeat(200) + "@" + Array(8).fill("c".repeat(40)).join(".") + ".com",

  // --- very short ---
  "a@b",
  "a@b.c",
  "@b.co",
  "a@.co",
];

const seen = new Set();
for (const c of candidates) {
  if (seen.has(c)) throw new Error(`duplicate candidate: ${JSON.stringify(c)}`);
  seen.add(c);
}

const schema = z.string().email();
const rows = candidates.map((input) => ({
  input,
  valid: schema.safeParse(input).success,
}));

mkdirSync(dirname(outPath), { recursive: true });
writeFileSync(outPath, JSON.stringify(rows, null, 2) + "\n");

const nValid = rows.filter((r) => r.valid).length;
console.log(
  `wrote ${rows.length} entries (${nValid} valid, ${rows.length - nValid} invalid) to ${outPath}`,
);
