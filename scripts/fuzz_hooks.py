"""schemathesis hooks for scripts/fuzz-api: make the requests it calls valid really valid.

positive_data_acceptance expects a schema-valid request to be accepted (2xx) or refused only
for the server's state (401, 403, 404, 409, 429). Two things a schema cannot say decide
validity here, and these hooks supply them wherever the generated value is itself valid:

- `current_password` is valid only if it is the user's password: the fuzzed user's password
  is filled in (and followed through the password changes the fuzzer makes);
- a CORS preflight is valid only from an origin listed in ALLOWED_ORIGINS: the fuzzed
  server's one allowed origin is filled in;
- a new `password` is valid only if it is not on the blocklist (one of the 10,000 most common
  passwords in any case, or containing the account's address or its local part): a password
  the server would refuse for that is replaced by a random one of the same kind.

The Rust test suite covers the wrong-password 400, the
throttle and the 405 for other origins.
"""

import os
import pathlib
import uuid

import schemathesis

PASSWORD = [os.environ["FUZZ_PASSWORD"]]
ALLOWED_ORIGIN = os.environ["FUZZ_ALLOWED_ORIGIN"]
EMAILS = [os.environ["FUZZ_EMAIL"]]
COMMON = set(
    (pathlib.Path(__file__).parent.parent / "src/domain/common-passwords.txt").read_text().split("\n")
)


def _blocked(password: str, emails) -> bool:
    lower = password.lower()
    if lower in COMMON:
        return True
    for email in emails:
        email = email.lower()
        local = email.rsplit("@", 1)[0]
        if email in lower or (len(local) >= 3 and local in lower):
            return True
    return False


def _js_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@schemathesis.hook
def before_call(context, case, kwargs):
    # Only values that are valid by the schema are replaced (a string of a valid length), so a
    # case generated to break the schema still breaks it.
    if case.method.upper() == "OPTIONS":
        if isinstance((case.headers or {}).get("Origin"), str):
            case.headers["Origin"] = ALLOWED_ORIGIN
    elif isinstance(case.body, dict):
        current = case.body.get("current_password")
        if isinstance(current, str) and 1 <= _js_length(current) <= 256:
            case.body["current_password"] = PASSWORD[0]
        password = case.body.get("password")
        emails = EMAILS + [e for e in [case.body.get("email")] if isinstance(e, str)]
        if (
            isinstance(password, str)
            and 8 <= _js_length(password) <= 256
            and _blocked(password, emails)
        ):
            replacement = f"pw-{uuid.uuid4().hex}"
            while _blocked(replacement, emails):
                replacement = f"pw-{uuid.uuid4().hex}"
            case.body["password"] = replacement


@schemathesis.hook
def after_call(context, case, response):
    body = case.body
    if response.status_code != 200 or not isinstance(body, dict):
        return
    if isinstance(body.get("password"), str):
        PASSWORD[0] = body["password"]
    if isinstance(body.get("email"), str):
        # The cookie keeps the first address and the store holds the last: both count.
        EMAILS.append(body["email"])
