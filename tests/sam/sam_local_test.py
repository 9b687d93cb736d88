"""The function under AWS SAM, checked: `sam local invoke` with every event of events/, then
`sam local start-api` with real HTTP requests, each answer checked by status AND body (SAM
exits 0 even when it never reached the function, so its exit status proves nothing).

Run by scripts/sam-local-test, which provides (environment):
  DOCKER_HOST                  the Docker engine SAM uses
  AWS_ENDPOINT_URL_DYNAMODB    the local emulator (moto), loopback; it serves Secrets Manager too
  NEPTUN_SAM_LAMBDA            the x86_64 Lambda binary (the function's `bootstrap`)
  NEPTUN_SAM_CLI               the `neptun` command line binary
and runs it with the Python of the pinned SAM CLI (boto3 comes with it).

What a user does by hand (README, "Run it under SAM locally") happens here: the emulator gets
the table, the demo user and the session secret (under the name events/env-vars.example.json
gives, with scripts/sam-events' example value); scripts/sam-events mints fresh events; SAM runs
the template with events/env-vars.example.json, its endpoint pointed at this emulator. The
template is a copy of template.yaml for this machine: x86_64 instead of arm64, and the code an
already built binary instead of cargo-lambda's arm64 release build (scripts/smoke-arm64 checks
that one).
"""

import copy
import importlib.machinery
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3
from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = Path(__file__).resolve().parent / "sam_host_network.py"
FUNCTION = "UsersFunction"
REGION = "us-east-1"

# scripts/sam-events is the one source of the example's secret, user and addresses.
_loader = importlib.machinery.SourceFileLoader("sam_events", str(ROOT / "scripts" / "sam-events"))
_spec = importlib.util.spec_from_loader("sam_events", _loader)
sam_events = importlib.util.module_from_spec(_spec)
_loader.exec_module(sam_events)

passed = []
failed = []


def check(name, ok, detail=""):
    (passed if ok else failed).append(name)
    print(f"sam-local-test: {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f"\n    {detail}"),
          flush=True)
    return ok


def error_body(status, reason, message):
    return {"statusCode": status, "statusMessage": f"{reason}.", "message": message}


def user_body(user_id, email):
    return {"user": {"id": user_id, "primary_email": email}}


def cookie_of(set_cookies):
    """The session cookie's `name=value` among Set-Cookie values, and its attributes."""
    for line in set_cookies:
        pair, _, attributes = line.partition(";")
        if pair.startswith("neptun-session=") and pair != "neptun-session=":
            return pair, attributes
    return None, None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Run:
    def __init__(self, work):
        self.work = work
        self.endpoint = os.environ["AWS_ENDPOINT_URL_DYNAMODB"]
        self.neptun = os.environ["NEPTUN_SAM_CLI"]
        self.example_env = json.loads((ROOT / "events" / "env-vars.example.json").read_text())
        self.function_env = self.example_env[FUNCTION]
        self.logs = []
        # Every session cookie value handled, to look for in the logs.
        self.cookies = []

    # ---- what a user sets up by hand -------------------------------------------------------

    def template(self):
        """template.yaml for this machine: x86_64, the built binary as the code."""
        template = yaml_parse((ROOT / "template.yaml").read_text())
        code = self.work / "code"
        code.mkdir()
        shutil.copy(os.environ["NEPTUN_SAM_LAMBDA"], code / "bootstrap")
        template["Globals"]["Function"]["Architectures"] = ["x86_64"]
        function = template["Resources"][FUNCTION]
        # No BuildMethod: SAM runs the code where CodeUri points instead of expecting a build.
        function.pop("Metadata", None)
        function["Properties"]["CodeUri"] = str(code)
        path = self.work / "template.json"
        path.write_text(json.dumps(template, indent=1))
        self.declared = set(function["Properties"]["Environment"]["Variables"])
        return path

    def env_vars(self):
        """events/env-vars.example.json with its endpoint pointed at this emulator. Every
        variable it sets must be one the template declares: SAM silently drops the others."""
        undeclared = sorted(set(self.function_env) - self.declared)
        check("env-vars example sets only variables the template declares", not undeclared,
              f"undeclared: {undeclared}")
        env = copy.deepcopy(self.example_env)
        env[FUNCTION]["AWS_ENDPOINT_URL"] = self.endpoint
        path = self.work / "env-vars.json"
        path.write_text(json.dumps(env))
        return path

    def emulator(self):
        """The table, the demo user and the session secret, as the README has a user make them."""
        secrets = boto3.client("secretsmanager", endpoint_url=self.endpoint, region_name=REGION,
                               aws_access_key_id="test", aws_secret_access_key="test")
        secrets.create_secret(Name=self.function_env["SESSION_SECRET_ID"],
                              SecretString=sam_events.EXAMPLE_SESSION_SECRET)
        # The previous secrets, blank: none yet (a rotation would list the old one here).
        secrets.create_secret(Name=self.function_env["SESSION_SECRET_PREVIOUS_ID"],
                              SecretString=" ")
        env = dict(os.environ, USERS_TABLE=self.function_env["USERS_TABLE"],
                   SESSION_SECRET=sam_events.EXAMPLE_SESSION_SECRET)
        subprocess.run([self.neptun, "table", "create"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        created = subprocess.run(
            [self.neptun, "user", "create", "--store", "dynamodb", "--email", sam_events.DEMO_EMAIL,
             "--password", sam_events.DEMO_PASSWORD],
            env=env, check=True, stdout=subprocess.PIPE, text=True).stdout
        user = json.loads(created.strip().splitlines()[-1])
        check("the demo user is user 1",
              user == user_body(sam_events.DEMO_USER_ID, sam_events.DEMO_EMAIL), created)

    def events(self):
        """Fresh events from scripts/sam-events; the committed ones must be the same but for
        their cookies, or they have drifted from the script."""
        out = self.work / "events"
        env = dict(os.environ, NEPTUN=self.neptun)
        subprocess.run([sys.executable, str(ROOT / "scripts" / "sam-events"), "--out", str(out)],
                       env=env, check=True)
        fresh = {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
        committed = {p.name: json.loads(p.read_text())
                     for p in sorted((ROOT / "events").glob("*.json"))
                     if p.name != "env-vars.example.json"}

        def without_cookies(event):
            event = copy.deepcopy(event)
            if "cookies" in event:
                event["cookies"] = ["neptun-session=…"]
            return event

        check("events/ holds exactly what scripts/sam-events writes (cookies aside)",
              sorted(fresh) == sorted(committed)
              and all(without_cookies(fresh[n]) == without_cookies(committed[n]) for n in fresh),
              f"fresh {sorted(fresh)}, committed {sorted(committed)}: run scripts/sam-events")
        self.cookie = next(e["cookies"][0] for e in fresh.values() if "cookies" in e)
        return out

    # ---- sam local invoke ------------------------------------------------------------------

    def sam(self, *args):
        return [sys.executable, str(LAUNCHER), *args]

    def sam_env(self):
        """SAM asks STS for the account id before each run (it fills AWS::AccountId): with
        credentials set, AWS's STS would be tried, unreachable here, for seconds each time.
        The emulator answers instead. SAM passes no such setting to the function."""
        return dict(os.environ, AWS_ENDPOINT_URL_STS=self.endpoint)

    def invoke(self, template, env_vars, event):
        started = time.monotonic()
        run = subprocess.run(
            self.sam("local", "invoke", FUNCTION, "--template", str(template), "--event", str(event),
                     "--env-vars", str(env_vars), "--skip-pull-image", "--region", REGION),
            env=self.sam_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            timeout=300)
        self.logs.append(run.stderr)
        try:
            answer = json.loads(run.stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            answer = None
        return answer, run, time.monotonic() - started

    def invoke_all(self, template, env_vars, events):
        d = sam_events
        # In this order: each case leaves the table as the next one expects.
        cases = [
            ("update-no-cookie.json", 401, error_body(401, "Unauthorized", "Unauthorized")),
            ("update-invalid-email.json", 400, {
                **error_body(400, "Bad Request", "Invalid body(?email, ?password). At least one "
                             "of email or password is required."),
                "data": {"issues": [{"code": "invalid_string", "validation": "email",
                                     "message": "Invalid email", "path": ["email"]}]}}),
            ("login-wrong-password.json", 401,
             error_body(401, "Unauthorized", "Invalid email or password.")),
            ("login.json", 200, user_body(d.DEMO_USER_ID, d.DEMO_EMAIL)),
            ("sign-up-taken.json", 409,
             error_body(409, "Conflict", "A user with this email already exists.")),
            ("sign-up.json", 200, user_body(d.DEMO_USER_ID + 1, d.SIGN_UP_EMAIL)),
            ("update-email.json", 200, user_body(d.DEMO_USER_ID, d.CHANGED_EMAIL)),
            ("update-password.json", 200, user_body(d.DEMO_USER_ID, d.CHANGED_EMAIL)),
        ]
        check("every event is checked", sorted(c[0] for c in cases)
              == sorted(p.name for p in events.glob("*.json")))
        for name, status, body in cases:
            answer, run, seconds = self.invoke(template, env_vars, events / name)
            detail = f"sam exit {run.returncode}, stdout {run.stdout[-600:]!r}, stderr {run.stderr[-1500:]!r}"
            if answer is None or not isinstance(answer, dict):
                check(f"sam local invoke {name}: an answer", False, detail)
                continue
            try:
                got = json.loads(answer.get("body") or "null")
            except json.JSONDecodeError:
                got = answer.get("body")
            headers = {k.lower(): v for k, v in (answer.get("headers") or {}).items()}
            ok = answer.get("statusCode") == status and headers.get("content-type") == "application/json"
            ok = ok and got == body
            # A 200 hands back a session cookie (v2's `cookies`); no error sets one.
            cookie, attributes = cookie_of(answer.get("cookies") or [])
            if cookie:
                self.cookies.append(cookie)
            if status == 200:
                ok = ok and cookie is not None and "HttpOnly" in attributes and "Secure" in attributes
            else:
                ok = ok and not answer.get("cookies")
            check(f"sam local invoke {name}: {status} and its body ({seconds:.1f} s)", ok,
                  f"got {answer.get('statusCode')} {got!r}; {detail}")

    # ---- sam local start-api ---------------------------------------------------------------

    def start_api(self, template, env_vars):
        port = free_port()
        log = open(self.work / "start-api.log", "w+")
        api = subprocess.Popen(
            self.sam("local", "start-api", "--template", str(template), "--env-vars", str(env_vars),
                     "--skip-pull-image", "--region", REGION, "--host", "127.0.0.1",
                     "--port", str(port)),
            env=self.sam_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and api.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), 0.5).close()
                    break
                except OSError:
                    time.sleep(0.3)
            if not check("sam local start-api listens", api.poll() is None and time.monotonic() < deadline,
                         (self.work / "start-api.log").read_text()[-2000:]):
                return
            self.requests(base)
        finally:
            os.killpg(api.pid, signal.SIGTERM)
            try:
                api.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(api.pid, signal.SIGKILL)
                api.wait()
            log.seek(0)
            self.logs.append(log.read())
            log.close()

    def request(self, base, method, path, body=None, cookie=None, content_type="application/json"):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(base + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if cookie:
            request.add_header("Cookie", cookie)
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                status, headers, raw = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, error.headers, error.read()
        try:
            parsed = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            parsed = raw
        return status, headers, parsed

    def requests(self, base):
        d = sam_events
        user = f"/api/users/{d.DEMO_USER_ID}"
        # After the invocations above: the demo user is CHANGED_EMAIL with NEW_PASSWORD, and
        # every cookie minted before the password change is revoked.
        status, headers, body = self.request(base, "PATCH", user, {"email": d.DEMO_EMAIL})
        check("start-api PATCH without a cookie: 401 and its body",
              status == 401 and body == error_body(401, "Unauthorized", "Unauthorized"),
              f"{status} {body!r}")
        status, headers, body = self.request(base, "PATCH", user, {"email": d.DEMO_EMAIL}, self.cookie)
        check("start-api PATCH with a cookie from before the password change: 401",
              status == 401 and body == error_body(401, "Unauthorized", "Unauthorized"),
              f"{status} {body!r}")
        status, headers, body = self.request(base, "POST", "/api/auth/login",
                                             {"email": d.CHANGED_EMAIL, "password": d.NEW_PASSWORD})
        cookie, attributes = cookie_of(headers.get_all("Set-Cookie") or [])
        self.cookies.append(cookie or "")
        check("start-api POST /api/auth/login with the new address and password: 200, a cookie",
              status == 200 and body == user_body(d.DEMO_USER_ID, d.CHANGED_EMAIL)
              and cookie is not None and "HttpOnly" in attributes,
              f"{status} {body!r} {headers.get_all('Set-Cookie')}")
        if cookie is None:
            return
        status, headers, body = self.request(base, "PATCH", user, {"email": d.DEMO_EMAIL}, cookie)
        refreshed, _ = cookie_of(headers.get_all("Set-Cookie") or [])
        self.cookies.append(refreshed or "")
        check("start-api PATCH with the login's cookie: 200, the address back, a refreshed cookie",
              status == 200 and body == user_body(d.DEMO_USER_ID, d.DEMO_EMAIL) and refreshed,
              f"{status} {body!r}")
        status, headers, body = self.request(base, "GET", user, cookie=cookie)
        check("start-api GET on the update's route: 405, Allow: PATCH",
              status == 405 and headers.get("Allow") == "PATCH"
              and body == error_body(405, "Method Not Allowed", "Method not allowed."),
              f"{status} {headers.get('Allow')!r} {body!r}")
        status, headers, body = self.request(
            base, "POST", "/api/auth/sign-up",
            {"email": "third@example.com", "password": d.SIGN_UP_PASSWORD,
             "confirmPassword": d.SIGN_UP_PASSWORD})
        check("start-api POST /api/auth/sign-up: 200, user 3",
              status == 200 and body == user_body(d.DEMO_USER_ID + 2, "third@example.com"),
              f"{status} {body!r}")

    # ---- logs ------------------------------------------------------------------------------

    def no_secret_in_logs(self):
        """What SAM printed, the function's own log lines included, holds no password, cookie
        or secret the run handled."""
        d = sam_events
        secrets = [d.EXAMPLE_SESSION_SECRET, d.DEMO_PASSWORD, d.NEW_PASSWORD, d.SIGN_UP_PASSWORD]
        secrets += [c.split("=", 1)[1] for c in [self.cookie, *self.cookies] if "=" in c]
        secrets = [s for s in secrets if s]
        text = "\n".join(self.logs)
        leaked = [s[:6] + "…" for s in secrets if s in text]
        check(f"no password, cookie or secret in SAM's or the function's output ({len(secrets)} looked for)",
              not leaked, f"found {leaked}")
        check("the function logged its requests", '"message":"request"' in text,
              text[-1500:])


def main():
    work = Path(tempfile.mkdtemp(prefix="neptun-sam-test."))
    try:
        run = Run(work)
        template = run.template()
        env_vars = run.env_vars()
        run.emulator()
        events = run.events()
        run.invoke_all(template, env_vars, events)
        run.start_api(template, env_vars)
        run.no_secret_in_logs()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"sam-local-test: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
