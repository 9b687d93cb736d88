//! The web UI's journey in a real browser: `tests/browser/journey.mjs` drives headless
//! Chromium through an h3 stand-in of the Nuxt app (nuxt-auth-utils' session code and the app's
//! server plugin, which re-seals the session with `loggedInAt` set to now on every session
//! fetch) whose login, sign-up and account pages are answered by the real `neptun serve` in
//! `SESSION_FORMAT=nuxt`: sign up, sign out, sign in, change the address and the password,
//! sign in with the new ones and not the old, a second browser's session revoked even after
//! the app re-sealed it, the app's password rules shown under the field, the app's own
//! (unstamped) sessions refused by default and accepted under `NUXT_UNSTAMPED_SESSIONS=accept`;
//! then the function mounted under the app's host by a proxy that keeps `Host` and by one that
//! rewrites it, called cross-origin by an allowed site, and refused to sites not listed.
//! Every server is on 127.0.0.1, on ports the OS chose.
//!
//! Needs `node`, `tests/browser/node_modules` (`npm ci` there) and Debian's `/usr/bin/chromium`;
//! `scripts/test` installs both. Without them the test says SKIPPED, unless
//! `NEPTUN_REQUIRE_BROWSER=1` (as `scripts/test` and CI set), where a missing piece fails it.

use std::io::Read;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// The journey bounds its own run (240 s); this is the backstop if node itself hangs.
const TIME_LIMIT: Duration = Duration::from_secs(300);

/// What is missing to run the journey, in words; empty when everything is there.
fn missing_pieces(dir: &Path) -> Vec<String> {
    let mut missing = Vec::new();
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|status| status.success()) {
        missing.push("node".to_owned());
    }
    let packages: Vec<&str> = ["playwright-core", "h3", "defu"]
        .into_iter()
        .filter(|package| !dir.join("node_modules").join(package).is_dir())
        .collect();
    if !packages.is_empty() {
        missing.push(format!(
            "{} in tests/browser/node_modules (npm ci there)",
            packages.join(", ")
        ));
    }
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (apt-get install -y chromium)"));
    }
    missing
}

#[test]
fn the_web_uis_journey_works_in_a_real_browser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let missing = missing_pieces(&dir);
    if !missing.is_empty() {
        let missing = missing.join(", ");
        assert!(
            std::env::var("NEPTUN_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "NEPTUN_REQUIRE_BROWSER=1 but the browser journey cannot run: missing {missing}"
        );
        // Straight to the stderr handle, past the test harness's capture: a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the browser journey (missing {missing}); scripts/test installs them"
        );
        return;
    }

    let mut child = Command::new("node")
        .arg(dir.join("journey.mjs"))
        .env("NEPTUN_BIN", env!("CARGO_BIN_EXE_neptun"))
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that a timeout ends node and the servers it started.
        .process_group(0)
        .spawn()
        .expect("node starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for node") {
            break Some(status);
        }
        if started.elapsed() > TIME_LIMIT {
            let group = format!("-{}", child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let output = format!("--- node's stdout ---\n{stdout}\n--- node's stderr ---\n{stderr}");
    let Some(status) = status else {
        panic!("the browser journey did not end in {TIME_LIMIT:?}; killed\n{output}");
    };
    assert!(
        status.success(),
        "the browser journey failed ({status})\n{output}"
    );
    assert!(
        stdout.contains("browser-journey: ") && stdout.contains(" 0 failed, 0 skipped"),
        "the journey exited 0 without its summary line\n{output}"
    );
    println!("{stdout}");
}
