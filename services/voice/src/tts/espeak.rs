//! espeak-ng, which turns text into the phonemes piper voices read.
//!
//! espeak-ng is GPL-3.0+ C code, compiled into this binary by espeak-rs-sys (through
//! piper-rs). It needs its data folder (`espeak-ng-data`: phoneme tables,
//! dictionaries) at run time. espeak-rs looks for it in `$PIPER_ESPEAKNG_DATA_DIRECTORY`,
//! the working directory and the executable's directory; failing those, espeak-ng
//! uses `$ESPEAK_DATA_PATH` and then the folder its build installed the data into,
//! which is compiled into the library (`<target>/<profile>/build/espeak-rs-sys-*/out/
//! share`). So a binary run from its build tree finds the matching data with no set-up;
//! a binary copied elsewhere needs `PIPER_ESPEAKNG_DATA_DIRECTORY` (or Debian's
//! `espeak-ng-data` package, 1.51, which phonemises slightly differently).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Variable naming a folder that contains `espeak-ng-data` (read by espeak-rs).
pub const DATA_DIR_ENV: &str = "PIPER_ESPEAKNG_DATA_DIRECTORY";
/// Variable espeak-ng itself reads when espeak-rs found nothing.
const ESPEAK_ENV: &str = "ESPEAK_DATA_PATH";
/// The data folder's name.
pub const DATA_DIR_NAME: &str = "espeak-ng-data";
/// Where Debian's `espeak-ng-data` package puts the data (the fallback to point
/// `PIPER_ESPEAKNG_DATA_DIRECTORY` at).
pub const DEBIAN_DATA_PARENT: &str = "/usr/lib/x86_64-linux-gnu";

/// Where the espeak-ng data will be read from, and why there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLocation {
    /// The folder that contains `espeak-ng-data`.
    pub dir: PathBuf,
    /// Which rule found it.
    pub source: DataSource,
}

/// The rule that located the espeak-ng data, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataSource {
    /// `$PIPER_ESPEAKNG_DATA_DIRECTORY`.
    Env,
    /// The working directory.
    WorkingDir,
    /// The executable's directory.
    ExeDir,
    /// `$ESPEAK_DATA_PATH`.
    EspeakEnv,
    /// The data espeak-rs-sys built and installed with the library linked here.
    Built,
}

/// Finds the espeak-ng data the way espeak-rs and espeak-ng will, so start-up can
/// report it and fail with the fix when there is none.
pub fn locate() -> Option<DataLocation> {
    let has_data = |dir: &Path| dir.join(DATA_DIR_NAME).join("phontab").is_file();
    let found = |dir: PathBuf, source| Some(DataLocation { dir, source });
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).map(PathBuf::from)
        && has_data(&dir)
    {
        return found(dir, DataSource::Env);
    }
    if let Ok(dir) = std::env::current_dir()
        && dir.join(DATA_DIR_NAME).exists()
    {
        return found(dir, DataSource::WorkingDir);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        && dir.join(DATA_DIR_NAME).exists()
    {
        return found(dir, DataSource::ExeDir);
    }
    if let Some(path) = std::env::var_os(ESPEAK_ENV).map(PathBuf::from) {
        // espeak-ng accepts the data folder itself or its parent here.
        if path.join("phontab").is_file() {
            let parent = path.parent().map_or(path.clone(), Path::to_path_buf);
            return found(parent, DataSource::EspeakEnv);
        }
        if has_data(&path) {
            return found(path, DataSource::EspeakEnv);
        }
    }
    built_data().and_then(|dir| found(dir, DataSource::Built))
}

/// The `share` folder of espeak-rs-sys's build in this build's profile directory
/// (the most recently built one when there are several).
fn built_data() -> Option<PathBuf> {
    let profile_dir = PathBuf::from(option_env!("VOICE_PROFILE_DIR")?);
    let entries = std::fs::read_dir(profile_dir.join("build")).ok()?;
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("espeak-rs-sys-")
        })
        .map(|e| e.path().join("out").join("share"))
        .filter(|share| share.join(DATA_DIR_NAME).join("phontab").is_file())
        .max_by_key(|share| {
            std::fs::metadata(share.join(DATA_DIR_NAME).join("phontab"))
                .and_then(|m| m.modified())
                .ok()
        })
}

/// The message for a missing data folder: what to set and to what.
pub fn missing_data_help() -> String {
    format!(
        "espeak-ng-data not found: set {DATA_DIR_ENV} to a folder containing {DATA_DIR_NAME} \
         (the one built with this binary under target/<profile>/build/espeak-rs-sys-*/out/share, \
         or Debian's {DEBIAN_DATA_PARENT} from the espeak-ng-data package)"
    )
}

/// espeak-ng keeps its state in globals (the current voice, the text pointer), so two
/// threads phonemising at once would corrupt each other; every call goes through this.
static ESPEAK: Mutex<()> = Mutex::new(());

/// Phonemes (IPA, as piper voices expect) of `text` in the espeak voice `voice`
/// (e.g. `en-us`), sentences joined by a space as piper does.
pub fn phonemise(text: &str, voice: &str) -> Result<String, String> {
    // A panic while holding the lock cannot leave espeak-ng half-way through a call
    // that matters to the next one: each call sets the voice and the text afresh.
    let _guard = ESPEAK
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    espeak_rs::text_to_phonemes(text, voice, None)
        .map(|sentences| sentences.join(" "))
        .map_err(|e| e.to_string())
}
