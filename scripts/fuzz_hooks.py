"""schemathesis hooks for scripts/fuzz-api: make the requests it calls valid really valid.

positive_data_acceptance expects a schema-valid request to be accepted (2xx) or refused only
for the server's state (401, 403, 404, 409, 429). Some things a schema cannot say decide
validity here, and these hooks supply them wherever the generated value is itself valid (a
string of a valid length, an address the schema's pattern accepts), so a case generated to
break the schema still breaks it:

- `current_password` (update) is valid only if it is the user's password: the fuzzed user's
  password is filled in (and followed through the password changes the fuzzer makes);
- a CORS preflight is valid only from an origin listed in ALLOWED_ORIGINS: the fuzzed
  server's one allowed origin is filled in;
- a new password (update, sign-up) is valid only if it meets the server's PASSWORD_RULES
  (`neptun`: a special character, a lowercase and an uppercase letter, a digit) and is not on
  the blocklist (one of the 10,000 most common passwords in any case, or containing the
  account's address or its local part): a missing class is appended, and a password the
  blocklist refuses is replaced by a random one that meets the rules;
- a sign-up is valid only if `confirmPassword` equals `password`: it is made equal; and it
  makes an account only for an address nobody holds: the address gets a unique prefix (a
  taken one answers a documented 409, but then no account is made and nothing signs in);
- a sign-in succeeds only with an account's address and password: every other schema-valid
  sign-in uses an account the run knows (the fuzzed user, or one a sign-up made), its
  address in the stored case or upper-cased (looked up case-insensitively); the rest keep
  their generated address and answer the documented 401 for an unknown one. No sign-in sends
  a known address with a wrong password, so no account's sign-ins lock (a documented 429)
  and the successes go on being tested.

The session cookie goes to the update route only (scripts/schemathesis.toml): sign-in and
sign-up refuse a signed-in browser with 403, which would answer every case. The cookies the
fuzzed sign-ins set are `Secure`, so the HTTP client never sends them back over plain HTTP.

The Rust test suite covers the wrong-password 400 and 401, the throttles, the 403 for a
signed-in browser, the 409 and the 405 for other origins.
"""

import itertools
import os
import pathlib
import re
import uuid

import schemathesis

PASSWORD = [os.environ["FUZZ_PASSWORD"]]
ALLOWED_ORIGIN = os.environ["FUZZ_ALLOWED_ORIGIN"]
EMAILS = [os.environ["FUZZ_EMAIL"]]
RULES = os.environ.get("FUZZ_PASSWORD_RULES", "nist")
COMMON = set(
    (pathlib.Path(__file__).parent.parent / "src/domain/common-passwords.txt").read_text().split("\n")
)
# The web app's special characters (PASSWORD_RULES=neptun).
SPECIAL = "-._!\"`'#%&,:;<>=@{}~$()*+/\\?[]^|"
# zod 3's email check, as openapi.yaml states it (the `i` flag spelt out).
EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)([A-Za-z0-9_'+\-\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\-]*\.)+[A-Za-z]{2,}"
)
UPDATE_PATH = "/api/users/{user_id}"
SIGN_IN_PATH = "/api/auth/login"
SIGN_UP_PATH = "/api/auth/sign-up"
# Accounts made by sign-ups of this run: (address, password).
SIGNED_UP = []
SIGN_INS = itertools.count()


def _blocked(password: str, emails) -> bool:
    lower = password.lower()
    if lower in COMMON:
        return True
    # As the server does: an empty address (only in a body refused for it anyway) names nothing.
    for email in filter(None, emails):
        email = email.lower()
        local = email.rsplit("@", 1)[0]
        if email in lower or (len(local) >= 3 and local in lower):
            return True
    return False


def _js_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _valid_string(value, low: int, high: int) -> bool:
    return isinstance(value, str) and low <= _js_length(value) <= high


def _valid_email(value) -> bool:
    return _valid_string(value, 5, 256) and EMAIL.fullmatch(value) is not None


def _meets_rules(password: str) -> str:
    """`password` with each character class PASSWORD_RULES=neptun misses appended (cut to
    leave room for them: still 8..=256 characters)."""
    if RULES != "neptun":
        return password
    while _js_length(password) > 252:
        password = password[:-1]
    classes = [
        (lambda c: c in SPECIAL, "-"),
        (lambda c: c.isascii() and c.islower(), "a"),
        (lambda c: c.isascii() and c.isupper(), "A"),
        (lambda c: c.isascii() and c.isdigit(), "7"),
    ]
    return password + "".join(add for found, add in classes if not any(map(found, password)))


def _new_password(password: str, emails) -> str:
    """A valid new password for an account with `emails`, as close to `password` as can be."""
    password = _meets_rules(password)
    while _blocked(password, emails):
        # The fixed characters stand apart, between random ones, so no address's local part
        # (3 characters or more) can be in every candidate.
        random = uuid.uuid4().hex
        password = _meets_rules(f"{random[:10]}A{random[10:20]}-{random[20:]}7")
    return password


def _unique_email(email: str) -> str:
    """`email` with a prefix no other address of the run has (still an address zod accepts)."""
    prefix = f"u{uuid.uuid4().hex[:12]}-"
    if _js_length(prefix + email) <= 256:
        return prefix + email
    return f"{prefix}signup@example.com"


def _update(body: dict) -> None:
    current = body.get("current_password")
    if _valid_string(current, 1, 256):
        body["current_password"] = PASSWORD[0]
    password = body.get("password")
    if _valid_string(password, 8, 256):
        emails = EMAILS + [e for e in [body.get("email")] if isinstance(e, str)]
        body["password"] = _new_password(password, emails)


def _sign_up(body: dict) -> None:
    email = body.get("email")
    if _valid_email(email):
        email = body["email"] = _unique_email(email)
    password = body.get("password")
    if _valid_string(password, 8, 256):
        password = body["password"] = _new_password(
            password, [email] if isinstance(email, str) else []
        )
    if isinstance(password, str) and isinstance(body.get("confirmPassword"), str):
        body["confirmPassword"] = password


def _sign_in(body: dict) -> None:
    if not (_valid_email(body.get("email")) and _valid_string(body.get("password"), 1, 256)):
        return
    accounts = [(EMAILS[-1], PASSWORD[0])] + SIGNED_UP
    turn = next(SIGN_INS)
    if turn % 3 == 2:
        return  # an unknown address: 401
    email, password = accounts[(turn // 3) % len(accounts)]
    body["email"] = email.upper() if turn % 3 == 1 else email
    body["password"] = password


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.method.upper() == "OPTIONS":
        if isinstance((case.headers or {}).get("Origin"), str):
            case.headers["Origin"] = ALLOWED_ORIGIN
    elif isinstance(case.body, dict):
        {UPDATE_PATH: _update, SIGN_UP_PATH: _sign_up, SIGN_IN_PATH: _sign_in}[case.path](case.body)


@schemathesis.hook
def after_call(context, case, response):
    body = case.body
    if response.status_code != 200 or not isinstance(body, dict):
        return
    if case.path == SIGN_UP_PATH:
        SIGNED_UP.append((body["email"], body["password"]))
    elif case.path == UPDATE_PATH:
        if isinstance(body.get("password"), str):
            PASSWORD[0] = body["password"]
        if isinstance(body.get("email"), str):
            # The cookie keeps the first address and the store holds the last: both count.
            EMAILS.append(body["email"])
