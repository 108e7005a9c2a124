//! The customer journey of the product brief, end to end in a real headless Chromium:
//! every service as its own process (the way the demo runs), the real kiosk page with
//! its real capture and playback code, a camera that shows a photo of Lucy and a
//! microphone that plays her speaking (synthesised by the voice service, transcribed
//! again by it in the kiosk flow).
//!
//! Lucy is enrolled from one photo and bought a pink sweater last week. The camera
//! shows a different photo of her. She is greeted by name and asked about the sweater;
//! she asks for a shirt to go with it and sees shirts in her size; she asks to try the
//! first one on and sees herself in it; she asks for it to be brought to a fitting
//! room, and the request reaches her screen, the staff page and the staff API.
//!
//! Only what a person at the kiosk or in the stock room would see is asserted, each
//! with a bounded wait (two slow cores run everything here). A failure first saves the
//! screenshots and puts the page's state, its captions and the services' logs in the
//! panic message. Inputs are described in `fixtures/kiosk/README.md`.

// Setup helpers unwrap so that a broken fixture or service fails at the line that broke.
#![allow(clippy::unwrap_used)]

mod browser;

use std::fmt::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use browser::driver::{self, Chromedriver, FakeMedia};
use browser::media::{self, Part};
use fantoccini::Client;
use fantoccini::wd::WindowHandle;
use futures_util::FutureExt as _;
use protocol::Service;
use protocol::catalog::{Consent, CustomerRecord, Product, PurchaseRequest};
use protocol::kiosk::{FetchRequest, FetchState, StaffMessage};
use protocol::vision::EnrolFaceRequest;
use serde_json::{Value, json};
use test_support::stack::{DEVICE_TOKEN, STAFF_TOKEN, Stack};
use test_support::{SERVICE_TOKEN, fixtures};

/// The name she gave when she consented to be recognised.
const NAME: &str = "Lucy";
/// Her usual size, for sweaters and shirts.
const SIZE: &str = "M";
/// The pink sweater of the fixture catalogue, which she bought a week ago.
const SWEATER: &str = "SWT-1001-PNK";

/// What she says, each after this many seconds of silence. She waits for the
/// assistant, as a customer would: speaking over it is a barge-in, which the page and
/// the server handle, but asking for "the first one" before the shirts are on screen
/// would be a different conversation. The pauses come
/// from what was measured on two busy cores: she is greeted 1 to 9 s after the page
/// opens (a 4 s greeting); her final transcript comes 1 to 9 s after she stops, the
/// shirts 4 to 15 s after that, with 18 s of speech; the try-on's reply is about 6 s.
///
/// "Can I try the first one on?" is not used: whisper (tiny.en) hears piper's "Can I"
/// as "and I tried", on the clean file too, and the dialogue rightly refuses that.
const SHE_SAYS: [(f32, &str); 3] = [
    (18.0, "I'm looking for a shirt to go with that sweater."),
    (40.0, "I'd like to try the first one on."),
    (25.0, "Yes please, bring it to a fitting room."),
];
/// Silence after her last words, so the microphone stays open and quiet (the file
/// is played once) while the journey is checked.
const SILENCE_AFTER: f32 = 30.0;

/// The whole journey, from opening the page to the staff page showing the request,
/// must fit in this; each step also has its own bound.
const JOURNEY_LIMIT: Duration = Duration::from_secs(210);

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Where screenshots go: `$CARGO_TARGET_DIR/test-artifacts`, else the workspace's
/// `target/test-artifacts`.
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Enrols Lucy through the vision service, as the kiosk's consent screen does, from a
/// photo that is not the one the camera will show.
async fn enrol_lucy(stack: &Stack) -> CustomerRecord {
    let photo = std::fs::read(fixtures().join("vision/photos/obama.jpg")).unwrap();
    let request = EnrolFaceRequest {
        name: NAME.into(),
        consent: Consent {
            given_by: NAME.into(),
            purpose: "recognition at the kiosk".into(),
            kiosk_id: "kiosk-test".into(),
            given_at_unix: now_unix() - 30 * 86_400,
        },
        photos_base64: vec![STANDARD.encode(photo)],
        sizes: [("sweater", SIZE), ("shirt", SIZE)]
            .into_iter()
            .map(|(category, size)| (category.to_owned(), size.to_owned()))
            .collect(),
        liked_colours: Vec::new(),
    };
    let response = http()
        .post(format!("{}/v1/vision/enrol", stack.url(Service::Vision)))
        .bearer_auth(SERVICE_TOKEN)
        .json(&request)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "enrolment: {status} {body}");
    serde_json::from_str(&body).unwrap()
}

/// Records that she bought the pink sweater in her size a week ago.
async fn record_sweater(stack: &Stack, customer: &str) {
    let purchase = PurchaseRequest {
        sku: SWEATER.into(),
        size: Some(SIZE.into()),
        at_unix: Some(now_unix() - 7 * 86_400),
    };
    let response = http()
        .post(format!(
            "{}/v1/customers/{customer}/purchases",
            stack.url(Service::Catalog)
        ))
        .bearer_auth(SERVICE_TOKEN)
        .json(&purchase)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert!(
        status.is_success(),
        "purchase: {status} {}",
        response.text().await.unwrap()
    );
}

/// `text` spoken by the voice service (piper), as a WAV file's bytes.
async fn speak(stack: &Stack, text: &str) -> Vec<u8> {
    let response = http()
        .post(format!("{}/v1/audio/speech", stack.url(Service::Voice)))
        .json(&json!({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    assert!(
        status.is_success(),
        "speech of {text:?}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    body.to_vec()
}

/// A product as the catalogue has it now.
async fn product(stack: &Stack, sku: &str) -> Result<Product, String> {
    let response = http()
        .get(format!("{}/v1/products/{sku}", stack.url(Service::Catalog)))
        .bearer_auth(SERVICE_TOKEN)
        .send()
        .await
        .map_err(|e| format!("catalog: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("product {sku}: {status} {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("product {sku}: {e}: {body}"))
}

/// The page's state, captions and what it shows, for a failing test's message.
const PAGE_DUMP: &str = r##"
const $ = (id) => document.getElementById(id);
const all = (selector) => [...document.querySelectorAll(selector)];
const shown = (e) => !!e && !e.hidden;
const video = $("camera-preview");
return {
  kioskState: window.kioskState || null,
  status: $("status") && $("status").textContent,
  welcome: shown($("welcome")) ? $("welcome").textContent : null,
  captions: all("#captions .line").filter((l) => l.textContent).map((l) =>
    (l.classList.contains("user") ? "customer: " : "assistant: ") + l.textContent),
  partial: $("caption-partial") && $("caption-partial").textContent,
  cards: all("#cards .card[data-sku]").map((c) => c.dataset.sku),
  mirror: $("mirror") && { state: $("mirror").dataset.state, sku: $("mirror").dataset.sku || null },
  fetch: shown($("fetch-status")) ? $("fetch-status").innerText : null,
  banner: shown($("banner")) ? $("banner").innerText : null,
  toast: shown($("toast")) ? $("toast").textContent : null,
  consentModal: shown($("consent-modal")),
  camera: video ? { width: video.videoWidth, height: video.videoHeight } : null,
};
"##;

/// The journey in the browser, and what it saw so far.
struct Journey<'a> {
    stack: &'a Stack,
    browser: Client,
    driver: &'a Chromedriver,
    kiosk_window: Option<WindowHandle>,
    staff_window: Option<WindowHandle>,
    opened: Instant,
    /// When each step was seen, seconds after the page opened.
    timeline: Vec<String>,
    artifacts: PathBuf,
}

impl Journey<'_> {
    fn note(&mut self, what: &str) {
        let line = format!("[{:6.1} s] {what}", self.opened.elapsed().as_secs_f32());
        println!("{line}");
        self.timeline.push(line);
    }

    /// Runs `script` (the body of a function, returning JSON) in the current window
    /// every 250 ms until `accept` takes what it returns, for at most `limit` (and
    /// never past the journey's limit).
    async fn wait_for<T>(
        &mut self,
        what: &str,
        limit: Duration,
        script: &str,
        accept: impl Fn(&Value) -> Option<T>,
    ) -> Result<T, String> {
        let started = Instant::now();
        let left = JOURNEY_LIMIT.saturating_sub(self.opened.elapsed());
        let limit = limit.min(left);
        let mut last;
        loop {
            match self.browser.execute(script, Vec::new()).await {
                Ok(value) => {
                    if let Some(found) = accept(&value) {
                        self.note(what);
                        return Ok(found);
                    }
                    last = value;
                }
                Err(e) => last = Value::String(format!("script failed: {e}")),
            }
            if started.elapsed() >= limit {
                return Err(format!(
                    "{what}: not seen within {:.0} s; last seen: {last}",
                    limit.as_secs_f32()
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Saves the whole page in the current window, scrolled parts included.
    async fn screenshot(&self, name: &str) -> Result<PathBuf, String> {
        let png = driver::full_page_screenshot(&self.browser)
            .await
            .map_err(|e| format!("screenshot {name}: {e}"))?;
        self.save(name, png)
    }

    /// Saves what the current window shows without scrolling.
    async fn first_screen(&self, name: &str) -> Result<PathBuf, String> {
        let png = self
            .browser
            .screenshot()
            .await
            .map_err(|e| format!("screenshot {name}: {e}"))?;
        self.save(name, png)
    }

    fn save(&self, name: &str, png: Vec<u8>) -> Result<PathBuf, String> {
        let path = self.artifacts.join(name);
        std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("screenshot: {}", path.display());
        Ok(path)
    }

    async fn switch_to(&self, window: Option<&WindowHandle>) -> Result<(), String> {
        let Some(window) = window else {
            return Ok(());
        };
        self.browser
            .switch_to_window(window.clone())
            .await
            .map_err(|e| format!("switch window: {e}"))
    }

    /// The journey; `Err` says which step did not happen.
    async fn run(&mut self) -> Result<(), String> {
        let kiosk = self.stack.url(Service::Kiosk);
        self.browser
            .goto(&format!("{kiosk}/?token={DEVICE_TOKEN}"))
            .await
            .map_err(|e| format!("open the kiosk page: {e}"))?;
        // The page opens the microphone as it loads: her track starts about now.
        self.opened = Instant::now();
        self.kiosk_window = Some(
            self.browser
                .window()
                .await
                .map_err(|e| format!("the kiosk page's window: {e}"))?,
        );

        self.wait_for(
            "the page is connected",
            Duration::from_secs(30),
            r##"return { connected: window.kioskState && window.kioskState.connected,
                        status: document.getElementById("status").dataset.state };"##,
            |v| (v["connected"] == true && v["status"] == "connected").then_some(()),
        )
        .await?;

        self.wait_for(
            "she is welcomed by name on screen",
            Duration::from_secs(90),
            r##"const name = document.getElementById("customer-name").textContent;
               return { shown: !document.getElementById("welcome").hidden, name };"##,
            |v| {
                let named = v["name"].as_str().is_some_and(|n| n.contains(NAME));
                (v["shown"] == true && named).then_some(())
            },
        )
        .await?;

        let greeting = self
            .wait_for(
                "the assistant greets her by name and asks about the sweater",
                Duration::from_secs(60),
                r##"return [...document.querySelectorAll("#captions .line.assistant")]
                       .map((l) => l.textContent).join(" | ");"##,
                |v| {
                    let text = v.as_str()?;
                    (text.contains(NAME) && text.to_lowercase().contains("sweater"))
                        .then(|| text.to_owned())
                },
            )
            .await?;
        println!("  assistant: {greeting}");

        let said = self
            .wait_for(
                "her spoken request for a shirt is captioned",
                Duration::from_secs(90),
                r##"return [...document.querySelectorAll("#captions .line.user")]
                       .map((l) => l.textContent).join(" | ");"##,
                |v| {
                    let text = v.as_str()?;
                    text.to_lowercase()
                        .contains("shirt")
                        .then(|| text.to_owned())
                },
            )
            .await?;
        println!("  customer: {said}");

        let cards = self
            .wait_for(
                "product cards are shown",
                Duration::from_secs(60),
                r##"return [...document.querySelectorAll("#cards .card[data-sku]")].map((c) => ({
                       sku: c.dataset.sku,
                       title: (c.querySelector(".card-title") || {}).textContent || "",
                       sizes: [...c.querySelectorAll(".fetch-size option")].map((o) => o.value),
                       tryOn: !!c.querySelector("button.try-on"),
                       fetch: !!c.querySelector("button.fetch") }));"##,
                |v| {
                    let cards = v.as_array()?;
                    (!cards.is_empty()).then(|| cards.clone())
                },
            )
            .await?;
        let mut skus = Vec::new();
        for card in &cards {
            let sku = card["sku"].as_str().unwrap_or_default().to_owned();
            let product = product(self.stack, &sku).await?;
            if product.category != "shirt" {
                return Err(format!(
                    "she asked for a shirt, and was shown {sku} ({}), a {}",
                    product.title, product.category
                ));
            }
            if !product.in_stock(SIZE) {
                return Err(format!(
                    "{sku} ({}) is shown but not in stock in her size {SIZE}: {:?}",
                    product.title, product.sizes
                ));
            }
            let offered = card["sizes"]
                .as_array()
                .is_some_and(|s| s.iter().any(|size| size == SIZE));
            if !offered || card["tryOn"] != true || card["fetch"] != true {
                return Err(format!(
                    "the card of {sku} should offer size {SIZE}, try-on and fetch: {card}"
                ));
            }
            skus.push(sku);
        }
        println!("  cards: {}", skus.join(", "));

        self.wait_for(
            "the assistant's speech was played",
            Duration::from_secs(60),
            r##"const s = window.kioskState;
               return { chunks: s.audioChunksPlayed, bytes: s.audioBytesPlayed };"##,
            |v| {
                (v["chunks"].as_u64().unwrap_or(0) > 0 && v["bytes"].as_u64().unwrap_or(0) > 0)
                    .then_some(())
            },
        )
        .await?;

        let tried = self
            .wait_for(
                "the mirror shows her wearing a shirt",
                Duration::from_secs(120),
                r##"const img = document.getElementById("mirror-image");
                   return { src: (img.getAttribute("src") || "").slice(0, 40),
                            shown: !img.hidden, decoded: img.complete && img.naturalWidth > 0,
                            sku: document.getElementById("mirror").dataset.sku || null };"##,
                |v| {
                    let src = v["src"].as_str()?;
                    (src.starts_with("data:image/png")
                        && v["shown"] == true
                        && v["decoded"] == true)
                        .then(|| v["sku"].as_str().unwrap_or_default().to_owned())
                },
            )
            .await?;
        if skus.first() != Some(&tried) {
            return Err(format!(
                "she asked to try on the first shirt ({:?}); the mirror shows {tried:?}",
                skus.first()
            ));
        }

        let shown = self
            .wait_for(
                "her fitting-room request is shown on her screen",
                Duration::from_secs(120),
                r##"const f = document.getElementById("fetch-status");
                   return { shown: !f.hidden, state: f.dataset.state,
                            item: document.getElementById("fetch-item").textContent,
                            room: document.getElementById("fetch-room").textContent };"##,
                |v| (v["shown"] == true && v["state"] == "queued").then(|| v.clone()),
            )
            .await?;
        let title = product(self.stack, &tried).await?.title;
        let item = shown["item"].as_str().unwrap_or_default();
        if !item.contains(&title) || !item.contains(&format!("size {SIZE}")) {
            return Err(format!(
                "her screen should say {title:?} in size {SIZE} is being fetched: {shown}"
            ));
        }
        self.wait_for(
            "her fitting-room request is on her screen without scrolling",
            Duration::from_secs(5),
            r##"const f = document.getElementById("fetch-status").getBoundingClientRect();
               const bar = document.querySelector(".topbar").getBoundingClientRect();
               return { top: f.top, bottom: f.bottom, below: bar.bottom, height: innerHeight };"##,
            |v| {
                let (top, bottom) = (v["top"].as_f64()?, v["bottom"].as_f64()?);
                (top >= v["below"].as_f64()? && bottom <= v["height"].as_f64()?).then_some(())
            },
        )
        .await?;
        self.first_screen("kiosk-first-screen.png").await?;
        self.screenshot("kiosk-journey.png").await?;

        let queue = self.staff_queue().await?;
        let [request] = queue.as_slice() else {
            return Err(format!("one fitting-room request expected: {queue:?}"));
        };
        let expected = (tried.as_str(), Some(SIZE), Some(NAME), FetchState::Queued);
        let got = (
            request.sku.as_str(),
            request.size.as_deref(),
            request.customer_first_name.as_deref(),
            request.state,
        );
        if got != expected || request.fitting_room.trim().is_empty() {
            return Err(format!(
                "the staff queue should hold the shirt she tried, in {SIZE}, for {NAME}, \
                 with a fitting room: {request:?}"
            ));
        }
        let room_line = shown["room"].as_str().unwrap_or_default();
        if !room_line.contains(&request.fitting_room) {
            return Err(format!(
                "her screen names fitting room {room_line:?}, staff were told {:?}",
                request.fitting_room
            ));
        }
        self.note("staff API lists the request");

        self.check_staff_page(request).await?;

        self.switch_to(self.kiosk_window.clone().as_ref()).await?;
        let end = self
            .browser
            .execute(PAGE_DUMP, Vec::new())
            .await
            .map_err(|e| format!("the kiosk page's state: {e}"))?;
        for line in end["captions"].as_array().into_iter().flatten() {
            println!("  | {}", line.as_str().unwrap_or_default());
        }
        // How long each turn took, to size the pauses in her speech when machines change.
        let log = std::fs::read_to_string(self.stack.log_path(Service::Kiosk)).unwrap_or_default();
        for line in log.lines().filter(|l| l.contains("turn done")) {
            println!("  kiosk: {}", without_ansi(line).trim());
        }
        let state = &end["kioskState"];
        println!(
            "  turns done: {}, barge-ins: {}, audio chunks played: {}, last turn's timing (ms): {}",
            state["turnsDone"], state["bargeIns"], state["audioChunksPlayed"], state["lastTiming"]
        );
        if !state["lastError"].is_null() || !end["banner"].is_null() {
            return Err(format!(
                "the journey went through, but her screen showed an error or a warning: {end:#}"
            ));
        }
        if end["consentModal"] != false {
            return Err(format!(
                "she is enrolled already, yet her screen asks for consent: {end:#}"
            ));
        }
        Ok(())
    }

    /// `GET /api/staff/fetches`, as the stock room's tools read it.
    async fn staff_queue(&self) -> Result<Vec<FetchRequest>, String> {
        let response = http()
            .get(format!(
                "{}/api/staff/fetches",
                self.stack.url(Service::Kiosk)
            ))
            .bearer_auth(STAFF_TOKEN)
            .send()
            .await
            .map_err(|e| format!("staff API: {e}"))?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("staff API: {status} {body}"));
        }
        match serde_json::from_str::<StaffMessage>(&body) {
            Ok(StaffMessage::Queue { requests }) => Ok(requests),
            Err(e) => Err(format!("staff API: {e}: {body}")),
        }
    }

    /// The staff page, in a window of its own (the kiosk's keeps running), shows the
    /// request as a row staff can act on.
    async fn check_staff_page(&mut self, request: &FetchRequest) -> Result<(), String> {
        // A window, not a tab, so the kiosk page keeps running as a visible one.
        let window = self
            .browser
            .new_window(false)
            .await
            .map_err(|e| format!("new window: {e}"))?
            .handle;
        self.staff_window = Some(window.clone());
        self.switch_to(Some(&window)).await?;
        self.browser
            .goto(&format!(
                "{}/staff?token={STAFF_TOKEN}",
                self.stack.url(Service::Kiosk)
            ))
            .await
            .map_err(|e| format!("open the staff page: {e}"))?;
        let id = request.fetch_id.clone();
        let script = format!(
            r##"const row = [...document.querySelectorAll("#queue-body tr[data-fetch-id]")]
                   .find((r) => r.dataset.fetchId === {id});
               if (!row) return null;
               const text = (s) => (row.querySelector(s) || {{}}).textContent || "";
               return {{ sku: text(".sku"), size: text(".size"), room: text(".room"),
                         customer: text(".customer"), state: row.dataset.state,
                         actions: [...row.querySelectorAll("button[data-action]")]
                                      .map((b) => b.dataset.action) }};"##,
            id = Value::String(id)
        );
        let row = self
            .wait_for(
                "the staff page lists the request",
                Duration::from_secs(30),
                &script,
                |v| (!v.is_null()).then(|| v.clone()),
            )
            .await?;
        let claimable = row["actions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|action| action == "claim"));
        if row["sku"] != request.sku.as_str()
            || row["size"] != SIZE
            || row["room"] != request.fitting_room.as_str()
            || row["customer"] != NAME
            || !claimable
        {
            return Err(format!(
                "the staff row should show {} in {SIZE} for {NAME} in room {}, claimable: {row}",
                request.sku, request.fitting_room
            ));
        }
        self.screenshot("staff-queue.png").await?;
        Ok(())
    }

    /// Everything that helps to see why a step failed: the screenshots (saved first),
    /// the page's state and captions, the services' logs.
    async fn report_failure(&mut self, error: &str) -> String {
        let mut report = format!("{error}\n\nsteps seen:\n{}\n", self.timeline.join("\n"));
        if let Some(staff) = self.staff_window.clone()
            && self.switch_to(Some(&staff)).await.is_ok()
        {
            let saved = self.screenshot("staff-queue.png").await;
            note_screenshot(&mut report, "staff page", saved);
        }
        let _ = self.switch_to(self.kiosk_window.clone().as_ref()).await;
        let saved = self.first_screen("kiosk-first-screen.png").await;
        note_screenshot(&mut report, "kiosk screen", saved);
        let saved = self.screenshot("kiosk-journey.png").await;
        note_screenshot(&mut report, "kiosk page", saved);
        match self.browser.execute(PAGE_DUMP, Vec::new()).await {
            Ok(page) => {
                let _ = writeln!(report, "\nkiosk page:\n{page:#}");
            }
            Err(e) => {
                let _ = writeln!(report, "\nkiosk page unreadable: {e}");
            }
        }
        for service in [
            Service::Kiosk,
            Service::Voice,
            Service::Vision,
            Service::Dialogue,
            Service::Tryon,
        ] {
            let _ = writeln!(
                report,
                "\n--- {service} log (last lines) ---\n{}",
                self.stack.log_tail(service)
            );
        }
        let driver_log = self.driver.log_text();
        let tail: Vec<&str> = driver_log.lines().rev().take(15).collect();
        let _ = writeln!(
            report,
            "\n--- chromedriver log (last lines) ---\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
        report
    }
}

/// `text` without terminal colour codes (the services log in colour).
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Says in a failure report where a screenshot went, or why there is none.
fn note_screenshot(report: &mut String, page: &str, saved: Result<PathBuf, String>) {
    let _ = match saved {
        Ok(path) => writeln!(report, "{page} screenshot: {}", path.display()),
        Err(e) => writeln!(report, "no {page} screenshot: {e}"),
    };
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panic".to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recognised_customer_is_helped_by_voice_from_greeting_to_fitting_room() {
    let started = Instant::now();
    let (chromium, chromedriver) = driver::find_tools();
    let stack = Stack::start(&[]).await;
    println!("stack ready after {:.1} s", started.elapsed().as_secs_f32());
    let lucy = enrol_lucy(&stack).await;
    record_sweater(&stack, &lucy.id).await;

    // Her camera and microphone, outside the repository.
    let dir = tempfile::tempdir().unwrap();
    let photo = image::open(fixtures().join("vision/photos/obama2.jpg")).unwrap();
    let camera = dir.path().join("camera.y4m");
    media::write_y4m(&camera, &media::camera_picture(&photo), 10, 2).unwrap();
    let mut speech = Vec::new();
    for (_, text) in SHE_SAYS {
        speech.push(speak(&stack, text).await);
    }
    let mut parts = Vec::new();
    for ((pause, _), wav) in SHE_SAYS.iter().zip(&speech) {
        parts.push(Part::Silence(*pause));
        parts.push(Part::Speech(wav));
    }
    parts.push(Part::Silence(SILENCE_AFTER));
    let microphone = dir.path().join("microphone.wav");
    let starts = media::write_microphone(&microphone, &parts).unwrap();
    for ((_, text), at) in SHE_SAYS.iter().zip(&starts) {
        println!("microphone: at {at:5.1} s she says {text:?}");
    }

    let driver = Chromedriver::start(&chromedriver, dir.path()).await;
    let media = FakeMedia {
        camera_y4m: &camera,
        microphone_wav: &microphone,
    };
    let browser =
        driver::open_browser(&driver, &chromium, &dir.path().join("profile"), &media).await;
    let mut journey = Journey {
        stack: &stack,
        browser,
        driver: &driver,
        kiosk_window: None,
        staff_window: None,
        opened: Instant::now(),
        timeline: Vec::new(),
        artifacts: artifacts_dir(),
    };
    let outcome = match AssertUnwindSafe(journey.run()).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error),
        Err(panic) => Err(panic_text(panic.as_ref())),
    };
    let failure = match outcome {
        Ok(()) => None,
        Err(error) => Some(journey.report_failure(&error).await),
    };
    // Ends the browser; dropping the driver afterwards ends whatever is left.
    let _ = journey.browser.clone().close().await;
    drop(journey);
    drop(driver);
    if let Some(report) = failure {
        panic!("{report}");
    }
    println!(
        "journey passed in {:.1} s in all",
        started.elapsed().as_secs_f32()
    );
}
