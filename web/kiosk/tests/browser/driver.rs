//! A real headless Chromium driven over WebDriver (fantoccini): chromedriver started by
//! the test on a free port, Chromium given the fake camera and microphone files and
//! allowed to capture and play without a person clicking.

use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_json::{Value, json};

/// Where Debian's `chromium` package puts the browser.
const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` package puts the driver.
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The browser and its driver; a clear failure (not a skip) when they are missing,
/// since the kiosk's end-to-end test is part of the suite.
pub fn find_tools() -> (PathBuf, PathBuf) {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} not installed: the kiosk's browser test needs Debian's chromium and \
         chromium-driver packages; run scripts/setup.sh (it installs them)",
        missing.join(" and ")
    );
    (PathBuf::from(CHROMIUM), PathBuf::from(CHROMEDRIVER))
}

/// chromedriver, in its own process group so that dropping it also ends the Chromium
/// it started (a crashed test must not leave browsers behind).
pub struct Chromedriver {
    child: Child,
    /// The WebDriver URL.
    pub url: String,
    /// Its output, for a failing test's message.
    pub log: PathBuf,
}

impl Chromedriver {
    /// Starts chromedriver on a free port and waits until it answers `/status`.
    pub async fn start(binary: &Path, dir: &Path) -> Chromedriver {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let log = dir.join("chromedriver.log");
        let out = File::create(&log).expect("chromedriver log");
        let err = out.try_clone().expect("chromedriver log");
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let started = Instant::now();
        loop {
            if let Ok(response) = client.get(format!("{}/status", driver.url)).send().await
                && response.status().is_success()
            {
                return driver;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not answer within 30 s:\n{}",
                std::fs::read_to_string(&driver.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Its output so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group is chromedriver's own (process_group(0) above): its browser too.
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// What the browser is given as camera and microphone.
pub struct FakeMedia<'a> {
    /// A YUV4MPEG2 file, looped.
    pub camera_y4m: &'a Path,
    /// A WAV file, played once from the moment the page opens the microphone.
    pub microphone_wav: &'a Path,
}

/// Opens a WebDriver session on a fresh headless Chromium (its own profile folder
/// under `profile`).
pub async fn open_browser(
    driver: &Chromedriver,
    chromium: &Path,
    profile: &Path,
    media: &FakeMedia<'_>,
) -> Client {
    let args = [
        "--headless".to_owned(),
        // The test runs as root in CI, where Chromium's sandbox cannot start.
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--no-first-run".to_owned(),
        format!("--user-data-dir={}", profile.display()),
        // Grant camera and microphone without a prompt, and use the files as devices.
        "--use-fake-ui-for-media-stream".to_owned(),
        "--use-fake-device-for-media-stream".to_owned(),
        format!(
            "--use-file-for-fake-audio-capture={}%noloop",
            media.microphone_wav.display()
        ),
        format!(
            "--use-file-for-fake-video-capture={}",
            media.camera_y4m.display()
        ),
        // A kiosk speaks without anyone touching the screen first.
        "--autoplay-policy=no-user-gesture-required".to_owned(),
        "--window-size=1280,900".to_owned(),
        "--lang=en-GB".to_owned(),
    ];
    let millis = u64::try_from(COMMAND_TIMEOUT.as_millis()).unwrap_or(u64::MAX);
    let mut capabilities = Capabilities::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"binary": chromium, "args": args}),
    );
    // No page load or script may hang the test.
    capabilities.insert(
        "timeouts".into(),
        json!({"pageLoad": millis, "script": millis}),
    );
    // chromedriver listens on loopback: plain HTTP.
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "no browser session: {e}\nchromedriver:\n{}",
                driver.log_text()
            )
        })
}

/// Longest a page may take to load, or a script to run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The whole page in the current window as a PNG image, also what is scrolled out of
/// view. WebDriver's screenshot takes the viewport only (and fantoccini has no other),
/// so the window is made as tall as the page for it, then given its size back; no
/// Chromium-only (DevTools) command is needed. Heights given in `vh` (the captions,
/// the mirror) grow with the window, so this picture shows a little more of them than
/// the screen does; [`Client::screenshot`] shows the screen as it is.
pub async fn full_page_screenshot(browser: &Client) -> Result<Vec<u8>, CmdError> {
    let (width, height) = browser.get_window_size().await?;
    let shot = page_tall_screenshot(browser).await;
    let restore = (
        u32::try_from(width).unwrap_or(u32::MAX),
        u32::try_from(height).unwrap_or(u32::MAX),
    );
    browser.set_window_size(restore.0, restore.1).await?;
    shot
}

/// Makes the window as big as the page in it, then takes a screenshot.
async fn page_tall_screenshot(browser: &Client) -> Result<Vec<u8>, CmdError> {
    // The page's size and what the window adds around it (the browser's own bars).
    const MEASURE: &str = "const d = document.documentElement; \
        return [Math.max(d.scrollWidth, innerWidth), Math.max(d.scrollHeight, innerHeight), \
                outerWidth - innerWidth, outerHeight - innerHeight];";
    let pixels = |v: &Value| v.as_f64().map(|v| v.ceil().clamp(0.0, 16_384.0) as u32);
    let mut size = None;
    // The page may grow with the window (vh heights): measured again, a few times.
    for _ in 0..3 {
        let page = browser.execute(MEASURE, Vec::new()).await?;
        let (Some(w), Some(h), Some(frame_w), Some(frame_h)) = (
            pixels(&page[0]),
            pixels(&page[1]),
            pixels(&page[2]),
            pixels(&page[3]),
        ) else {
            break;
        };
        let wanted = (w + frame_w, h + frame_h);
        if size == Some(wanted) {
            break;
        }
        browser.set_window_size(wanted.0, wanted.1).await?;
        size = Some(wanted);
    }
    browser.screenshot().await
}
